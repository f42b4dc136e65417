/usr/bin/sleep 0.25
