/usr/bin/true 'A' "b" c\d
