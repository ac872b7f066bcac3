"""Public subscription pages (`public`) and support's subscriber pages in the console (`console`)."""
