"""Two-loop bucket synchronisation: copy what the destination lacks, delete what the source no longer has."""
