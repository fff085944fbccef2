/* The straightforward C `get` the benchmark compares `lookup get` with.

   get_c_lmdb TABLE.lmdb < KEYS > VALUES

   Opens a single-file environment read-only, begins one read transaction, and for
   each line of standard input (a key; a trailing CR is dropped) does one mdb_get in
   the main database and prints the value on its own line. Missing keys print
   nothing. Exit status: 0 all keys found, 1 some missing, 2 error.
   Build: cc -O2 -o get_c_lmdb get_c_lmdb.c -llmdb */
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const char *what) {
    if (rc) {
        fprintf(stderr, "get_c_lmdb: %s: %s\n", what, mdb_strerror(rc));
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: get_c_lmdb TABLE.lmdb < KEYS\n");
        return 2;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    check(mdb_env_create(&env), "mdb_env_create");
    check(mdb_env_open(env, argv[1], MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0644), argv[1]);
    check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t missing = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        MDB_val k = {(size_t)len, line}, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND) {
            missing++;
            continue;
        }
        check(rc, "mdb_get");
        fwrite(v.mv_data, 1, v.mv_size, stdout);
        putchar('\n');
    }
    if (fflush(stdout)) {
        perror("get_c_lmdb: stdout");
        return 2;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (missing) fprintf(stderr, "%zu keys not found\n", missing);
    return missing ? 1 : 0;
}
