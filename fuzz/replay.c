/*
 * A main() for building a harness without libFuzzer: runs LLVMFuzzerTestOneInput on every
 * file named on the command line and on every file in every directory named (sorted, not
 * recursive), printing "ok - <file>" for each, so the corpus and the regressions run as
 * ordinary tests under any compiler, sanitizer or valgrind. A failed check aborts. A path
 * that does not exist is skipped, so a harness need not have regressions.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int fz_replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        printf("not ok - %s (cannot open)\n", path);
        return 1;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap);
            if (data == NULL)
                abort();
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    /* An exact-size copy, as libFuzzer gives it, so a read past the input is caught. */
    {
        uint8_t *exact = fz_dup(data, len);
        free(data);
        fflush(stdout);
        (void)LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    printf("ok - %s\n", path);
    return 0;
}

static int fz_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fz_replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0, cap = 0, i;
    int failed = 0;

    if (d == NULL) {
        printf("not ok - %s (cannot open)\n", dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL)
                abort();
        }
        names[count] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (names[count] == NULL)
            abort();
        sprintf(names[count], "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (count > 0)
        qsort(names, count, sizeof *names, fz_cmp);
    for (i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            failed += fz_replay_file(names[i]);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    int i, failed = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            printf("# %s: not there, skipped\n", argv[i]); /* e.g. no regressions yet */
        else if (S_ISDIR(st.st_mode))
            failed += fz_replay_dir(argv[i]);
        else
            failed += fz_replay_file(argv[i]);
    }
    return failed ? 1 : 0;
}
