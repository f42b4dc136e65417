/usr/bin/dd if=/dev/zero of=/dev/null ibs=512 obs=1024 count=5
