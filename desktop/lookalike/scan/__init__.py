"""disk → FileStat / FileEvent: walking library roots and watching them for changes."""
