// Nothing to import: linking the target into the test binary is what runs its constructor (width.c).
