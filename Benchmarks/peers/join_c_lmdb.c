/* The straightforward C batch join the benchmark compares `lookup run --mode join` with.

   join_c_lmdb TABLE.lmdb INPUT_DIR OUT_DIR WORKERS [DBNAME]

   For each regular, non-hidden file of INPUT_DIR (not recursive), in name order, and
   for each of its lines: the key is the line up to its first comma (the whole line if
   it has none); when the key is in the table, writes `line,value\n` to OUT_DIR/<same
   name>. Every input file gets an output file, empty if nothing hit. OUT_DIR must exist.

   The parent lists the files, then forks WORKERS children BEFORE any LMDB environment
   is opened; each child opens the table itself (read-only, MDB_NOSUBDIR | MDB_RDONLY |
   MDB_NOLOCK), begins one read transaction, opens database DBNAME (a named database,
   e.g. `data` for a table built by `lookup build`; the main database when omitted),
   and takes file numbers from a shared pipe until it is empty (dynamic balancing).
   With JOIN_NORDAHEAD=1 in the environment it adds MDB_NORDAHEAD (no OS read-ahead: the
   way to read a table larger than memory). One mdb_get per line, in file order. The children send their hit counts back
   through a second pipe; the parent prints the total.
   Exit status: 0 success, 2 error.
   Build: cc -O2 -o join_c_lmdb join_c_lmdb.c -llmdb */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "join_c_lmdb: %s: %s\n", what, detail);
    exit(2);
}

static void check(int rc, const char *what) {
    if (rc) die(what, mdb_strerror(rc));
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins one file; returns its number of hits. */
static long join_file(MDB_txn *txn, MDB_dbi dbi, const char *in_path, const char *out_path) {
    FILE *in = fopen(in_path, "rb");
    if (!in) die(in_path, strerror(errno));
    FILE *out = fopen(out_path, "wb");
    if (!out) die(out_path, strerror(errno));
    static char inbuf[1 << 20], outbuf[1 << 20];
    setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long hits = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (len && line[len - 1] == '\n') len--;
        if (len == 0) continue;
        const char *comma = memchr(line, ',', (size_t)len);
        MDB_val k = {(size_t)(comma ? comma - line : len), line}, v;
        if (k.mv_size == 0) continue;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND) continue;
        check(rc, "mdb_get");
        hits++;
        fwrite(line, 1, (size_t)len, out);
        putc(',', out);
        fwrite(v.mv_data, 1, v.mv_size, out);
        putc('\n', out);
    }
    if (ferror(in)) die(in_path, "read error");
    if (fclose(out)) die(out_path, strerror(errno));
    fclose(in);
    free(line);
    return hits;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: join_c_lmdb TABLE.lmdb INPUT_DIR OUT_DIR WORKERS [DBNAME]\n");
        return 2;
    }
    const char *table = argv[1], *in_dir = argv[2], *out_dir = argv[3];
    int workers = atoi(argv[4]);
    const char *dbname = argc == 6 ? argv[5] : NULL;
    if (workers < 1) die("WORKERS", "must be at least 1");

    /* The input files, in name order. */
    DIR *d = opendir(in_dir);
    if (!d) die(in_dir, strerror(errno));
    size_t nfiles = 0, fcap = 64;
    char **files = malloc(fcap * sizeof *files);
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", in_dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
        if (nfiles == fcap) files = realloc(files, (fcap *= 2) * sizeof *files);
        files[nfiles++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof *files, by_name);

    int work[2], done[2];
    if (pipe(work) || pipe(done)) die("pipe", strerror(errno));
    fflush(NULL);
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) die("fork", strerror(errno));
        if (pid > 0) continue;
        /* Child: open the environment only now, after the fork. */
        close(work[1]);
        close(done[0]);
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        check(mdb_env_create(&env), "mdb_env_create");
        if (dbname) check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs");
        const char *nora = getenv("JOIN_NORDAHEAD");
        unsigned flags = MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | (nora && *nora == '1' ? MDB_NORDAHEAD : 0);
        check(mdb_env_open(env, table, flags, 0644), table);
        check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
        check(mdb_dbi_open(txn, dbname, 0, &dbi), dbname ? dbname : "mdb_dbi_open");
        long hits = 0;
        unsigned idx;
        char in_path[4096], out_path[4096];
        /* Each index was written as one 4-byte write, so a 4-byte read takes exactly one. */
        while (read(work[0], &idx, sizeof idx) == (ssize_t)sizeof idx) {
            snprintf(in_path, sizeof in_path, "%s/%s", in_dir, files[idx]);
            snprintf(out_path, sizeof out_path, "%s/%s", out_dir, files[idx]);
            hits += join_file(txn, dbi, in_path, out_path);
        }
        mdb_txn_abort(txn);
        mdb_env_close(env);
        if (write(done[1], &hits, sizeof hits) != (ssize_t)sizeof hits) _exit(2);
        _exit(0);
    }
    /* Parent: hand out the file numbers (after the fork, so a long list cannot fill the
       pipe before anyone reads it), then collect the hit counts. */
    close(work[0]);
    close(done[1]);
    for (unsigned i = 0; i < nfiles; i++)
        if (write(work[1], &i, sizeof i) != (ssize_t)sizeof i) die("pipe", strerror(errno));
    close(work[1]);
    long total = 0, h;
    int got = 0;
    while (read(done[0], &h, sizeof h) == (ssize_t)sizeof h) {
        total += h;
        got++;
    }
    int status, failed = 0;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    if (failed || got != workers) die("worker", "a worker failed");
    printf("%ld\n", total);
    return 0;
}
