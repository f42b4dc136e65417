/usr/bin/true a bb c
