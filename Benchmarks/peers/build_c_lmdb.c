/* The straightforward C builder the benchmark compares `lookup build` with.

   build_c_lmdb TABLE.csv OUT.lmdb

   Maps TABLE.csv (lines `key,value`, no quoting), records a (key, value) span per
   line, sorts the spans by key bytes with qsort, then writes them all with
   MDB_APPEND in a single write transaction into the main database of a
   single-file environment (MDB_NOSUBDIR), and syncs once at the end.
   Prints the number of records. Build: cc -O2 -o build_c_lmdb build_c_lmdb.c -llmdb */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct span {
    const char *key, *val;
    unsigned klen, vlen;
};

static int by_key(const void *pa, const void *pb) {
    const struct span *a = pa, *b = pb;
    int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
    if (c) return c;
    return (a->klen > b->klen) - (a->klen < b->klen);
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "build_c_lmdb: %s: %s\n", what, detail);
    exit(2);
}

static void check(int rc, const char *what) {
    if (rc) die(what, mdb_strerror(rc));
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: build_c_lmdb TABLE.csv OUT.lmdb\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) die(argv[1], strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) die(argv[1], strerror(errno));
    size_t size = (size_t)st.st_size;
    const char *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (data == MAP_FAILED) die(argv[1], strerror(errno));

    size_t n = 0, cap = 1 << 20;
    struct span *recs = malloc(cap * sizeof *recs);
    if (!recs) die("malloc", strerror(errno));
    for (const char *p = data, *end = data + size; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *line_end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        if (line_end > p) {
            const char *comma = memchr(p, ',', (size_t)(line_end - p));
            if (!comma || comma == p) die(argv[1], "line without `key,`");
            if (n == cap) {
                cap *= 2;
                recs = realloc(recs, cap * sizeof *recs);
                if (!recs) die("realloc", strerror(errno));
            }
            recs[n].key = p;
            recs[n].klen = (unsigned)(comma - p);
            recs[n].val = comma + 1;
            recs[n].vlen = (unsigned)(line_end - comma - 1);
            n++;
        }
        p = eol + 1;
    }
    qsort(recs, n, sizeof *recs, by_key);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    check(mdb_env_create(&env), "mdb_env_create");
    check(mdb_env_set_mapsize(env, (size_t)1 << 36), "mdb_env_set_mapsize");
    unlink(argv[2]);
    check(mdb_env_open(env, argv[2], MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOLOCK, 0644), argv[2]);
    check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {recs[i].klen, (void *)recs[i].key};
        MDB_val v = {recs[i].vlen, (void *)recs[i].val};
        int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
        if (rc == MDB_KEYEXIST) die("duplicate key", "keys must be unique");
        check(rc, "mdb_put");
    }
    check(mdb_txn_commit(txn), "mdb_txn_commit");
    check(mdb_env_sync(env, 1), "mdb_env_sync");
    mdb_env_close(env);
    printf("%zu\n", n);
    return 0;
}
