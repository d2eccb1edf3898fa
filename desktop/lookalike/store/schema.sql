-- Lookalike catalog, schema version 8 (the latest; older files are migrated step by step in
-- migrations.py). Run once on an empty file; migrations.py then sets PRAGMA user_version = 8.
-- Paths hold BLOBs of the bytes the OS gave (os.fsencode) since v5, in columns still declared
-- TEXT (that affinity keeps BLOBs as they are): Linux file names need not be UTF-8.
-- Units are in the column names: *_ns = nanoseconds since the Unix epoch, *_bytes = bytes.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE roots (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,            -- absolute folder path: os.fsencode BLOB (v5)
    online      INTEGER NOT NULL DEFAULT 1 CHECK (online IN (0, 1)),
    added_at_ns INTEGER NOT NULL
);

CREATE TABLE photos (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- the hnswlib label; never reused
    root_id       INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path          TEXT NOT NULL UNIQUE,          -- absolute file path: os.fsencode BLOB (v5)
    size_bytes    INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    content_hash  TEXT,                          -- for move/rename detection; NULL = not hashed
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'indexed', 'skipped', 'offline')),
    skip_reason   TEXT,                          -- why the photo could not be embedded
    seen          INTEGER NOT NULL DEFAULT 1,    -- mark-and-sweep flag, 0 = not seen yet
    indexed_at_ns INTEGER,                       -- when its vector was stored
    taken_ns      INTEGER                        -- EXIF DateTimeOriginal (local wall clock
                                                 -- read as local time), set when embedded;
                                                 -- NULL = none or not read: the date is then
                                                 -- mtime_ns. Added in v7
);
CREATE INDEX photos_root ON photos(root_id);
CREATE INDEX photos_hash ON photos(content_hash);
CREATE INDEX photos_status ON photos(status);
-- A photo's date for date-range scopes (lookalike.store.scope); v7.
CREATE INDEX photos_date ON photos(COALESCE(taken_ns, mtime_ns));

CREATE TABLE vectors (
    photo_id     INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    model_id     TEXT NOT NULL,
    vector       BLOB NOT NULL,                  -- (D,) float32, native (little) endian, unit norm
    peaks        BLOB NOT NULL,                  -- types.PEAK_DTYPE records, 8 bytes each
    vector_crc32 INTEGER NOT NULL DEFAULT 0,     -- zlib.crc32(vector); added in v2 so the index
                                                 -- can diff itself against the catalog
    locals       BLOB,                           -- types.locals_to_bytes (float16 local features
                                                 -- for spatial re-ranking); added in v3, NULL =
                                                 -- none (stored before v3 or by an embedder
                                                 -- without them)
    locals_crc32 INTEGER                         -- zlib.crc32(locals), NULL = no locals; v5
);
-- Covers the index's start-up diff (ids and CRCs of one model) without reading the blobs,
-- which sit in overflow pages in front of vector_crc32.
CREATE INDEX vectors_digest ON vectors(model_id, photo_id, vector_crc32);

-- A whitening learned from the library's own vectors (lookalike.store.whitening), per model;
-- the stored vectors stay unwhitened, so dropping the row undoes it. Added in v4.
CREATE TABLE whitening (
    model_id     TEXT PRIMARY KEY,
    data         BLOB NOT NULL,                  -- Whitening.to_bytes (.npz: mean, matrix)
    fitted_at_ns INTEGER NOT NULL
);

-- Vectors of the photos of a removed folder, by content, so that adding the folder back (or
-- the same photos elsewhere) does not embed them again; rows older than 90 days are dropped
-- when a folder is removed. Added in v6. content_hash is scan.hashing's full-file hash
-- (40 hex), as photos.content_hash.
CREATE TABLE retired_vectors (
    content_hash  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    model_id      TEXT NOT NULL,
    vector        BLOB NOT NULL,                 -- as vectors.vector
    peaks         BLOB NOT NULL,                 -- as vectors.peaks
    locals        BLOB,                          -- as vectors.locals
    retired_at_ns INTEGER NOT NULL,
    PRIMARY KEY (content_hash, size_bytes, model_id)
);

-- Each photo's grey thumbnail for the copy screen of duplicate grouping (lookalike.types.Thumb,
-- lookalike.search.copy_screen), made from the pixels embedded. Added in v8: photos embedded
-- before have none until the duplicate finder makes it from the file (DuplicateFinder) or the
-- photo is embedded again.
CREATE TABLE thumbs (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    width    INTEGER NOT NULL,                   -- upright size of the pixels it was made from
    height   INTEGER NOT NULL,
    pixels   BLOB NOT NULL                       -- (S, S) uint8 grey, row-major, S*S bytes
);
