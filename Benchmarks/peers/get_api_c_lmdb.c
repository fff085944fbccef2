/* The C side of the point-lookup comparison with the Swift API (lookup-api-bench).

   get_api_c_lmdb TABLE.lmdb KEYS.txt [DBNAME] [--passes P]

   Loads KEYS.txt (one key per line) into memory, opens the table read-only
   (MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK) and its database DBNAME (`data` for a table
   built by `lookup build`; the main database when omitted), begins one read transaction,
   then runs a loop of one mdb_get per key, in file order, once untimed (so the table's
   pages are mapped, as on the Swift side) and P times timed (default 3). Only the loop is
   timed. Prints one JSON line: the median ns per key, every pass, and a checksum (hits,
   summed value lengths) that must equal lookup-api-bench's.
   Build: cc -O2 -o get_api_c_lmdb get_api_c_lmdb.c -llmdb */
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct key {
    char *data;
    size_t len;
};

static void check(int rc, const char *what) {
    if (rc) {
        fprintf(stderr, "get_api_c_lmdb: %s: %s\n", what, mdb_strerror(rc));
        exit(2);
    }
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *table = NULL, *keys_path = NULL, *dbname = NULL;
    int passes = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--passes") && i + 1 < argc) passes = atoi(argv[++i]);
        else if (!table) table = argv[i];
        else if (!keys_path) keys_path = argv[i];
        else if (!dbname) dbname = argv[i];
        else passes = 0;
    }
    if (!keys_path || passes < 1 || passes > 1000) {
        fprintf(stderr, "usage: get_api_c_lmdb TABLE.lmdb KEYS.txt [DBNAME] [--passes P]\n");
        return 2;
    }

    FILE *f = fopen(keys_path, "rb");
    if (!f) { perror(keys_path); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc(size + 1);
    if (!text || fread(text, 1, size, f) != (size_t)size) { perror(keys_path); return 2; }
    fclose(f);
    size_t n = 0, cap = 1024;
    struct key *keys = malloc(cap * sizeof *keys);
    for (char *p = text, *end = text + size; p < end;) {
        char *nl = memchr(p, '\n', end - p);
        if (!nl) nl = end;
        if (n == cap) keys = realloc(keys, (cap *= 2) * sizeof *keys);
        keys[n++] = (struct key){p, (size_t)(nl - p)};
        p = nl + 1;
    }

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    check(mdb_env_create(&env), "mdb_env_create");
    check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs");
    check(mdb_env_open(env, table, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0644), table);
    check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, dbname, 0, &dbi), dbname ? dbname : "mdb_dbi_open");

    size_t hits = 0, bytes = 0;
    double *ns = malloc(passes * sizeof *ns);
    for (int pass = -1; pass < passes; pass++) {
        size_t h = 0, b = 0;
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
            MDB_val k = {keys[i].len, keys[i].data}, v;
            int rc = mdb_get(txn, dbi, &k, &v);
            if (rc == 0) {
                h++;
                b += v.mv_size;
            } else if (rc != MDB_NOTFOUND) {
                check(rc, "mdb_get");
            }
        }
        uint64_t t = now_ns() - t0;
        if (pass < 0) {
            hits = h;
            bytes = b;
            continue;
        }
        if (h != hits || b != bytes) { fprintf(stderr, "get_api_c_lmdb: passes disagree\n"); return 2; }
        ns[pass] = n ? (double)t / n : 0;
    }
    printf("{\"program\": \"get_api_c_lmdb\", \"mode\": \"mdb_get\", \"batch\": 1, \"keys\": %zu, ", n);
    double *sorted = malloc(passes * sizeof *sorted);
    memcpy(sorted, ns, passes * sizeof *ns);
    qsort(sorted, passes, sizeof *sorted, by_double);
    printf("\"ns_per_key\": %.2f, \"passes_ns_per_key\": [", sorted[passes / 2]);
    for (int i = 0; i < passes; i++) printf("%s%.2f", i ? ", " : "", ns[i]);
    printf("], \"hits\": %zu, \"value_bytes\": %zu}\n", hits, bytes);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
