"""Split-and-process media job: transcode segments in a bounded Map, then concatenate (JSONata)."""
