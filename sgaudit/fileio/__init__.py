"""Files sgaudit reads and writes: whole-or-absent writes and bounded reads (``files``), and
the versioned JSON documents it reads back later (``versioned``)."""
