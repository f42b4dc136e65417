/usr/bin/cat /etc/hostname
