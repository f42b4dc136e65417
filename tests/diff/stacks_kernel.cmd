/usr/bin/sleep 0.1
