/usr/bin/false
