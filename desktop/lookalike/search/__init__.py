"""query photo → ranked list of Match, and the regions that explain each match."""
