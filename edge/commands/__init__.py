"""The bodies of the commands other than run: analyze, bench, consistency, doctor, motion-latency."""
