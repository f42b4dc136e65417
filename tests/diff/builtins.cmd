/usr/bin/true
