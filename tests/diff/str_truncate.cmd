/usr/bin/dd if=/dev/null of=/nonexistent/directory/with/a/rather/long/name/that/goes/past/sixty/four/bytes status=none
