/*
 * replay_main.c - run the fuzz entry on files: the corpus replay that make
 * check runs, and the AFL++ driver (afl-fuzz ... -- fuzz-replay @@).
 *
 *   fuzz-replay FILE|DIR...         run each input (a directory: each file)
 *   fuzz-replay --capture DIR       write a corpus captured from real traffic
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_core.h"

#define FUZZ_INPUT_MAX (1 << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *buf = malloc(FUZZ_INPUT_MAX);
    size_t n = fread(buf, 1, FUZZ_INPUT_MAX, f);
    fclose(f);
    cohort_fuzz_one(buf, n);
    free(buf);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d)
        return 1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rc |= run_path(sub, count);
    }
    closedir(d);
    return rc;
}

struct capture {
    const char *dir;
    const char *prefix;
    size_t n;
};

static void emit(const uint8_t *data, size_t len, void *arg)
{
    struct capture *c = arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%03zu", c->dir, c->prefix, c->n++);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--capture") == 0) {
        struct capture plain = {argv[2], "capture-none", 0};
        struct capture auth = {argv[2], "capture-auth", 0};
        struct capture aes = {argv[2], "capture-aes", 0};
        struct capture parity = {argv[2], "capture-parity", 0};
        cohort_fuzz_capture(0, emit, &plain);
        cohort_fuzz_capture(1, emit, &auth);
        cohort_fuzz_capture(3, emit, &aes); /* AES-256-GCM where available */
        cohort_fuzz_capture_parity(emit, &parity);
        printf("wrote %zu + %zu + %zu + %zu inputs to %s\n", plain.n,
               auth.n, aes.n, parity.n, argv[2]);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz-replay FILE|DIR... | --capture DIR\n");
        return 2;
    }
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= run_path(argv[i], &count);
    printf("fuzz-replay: %zu inputs, %s\n", count, rc ? "errors" : "ok");
    return rc;
}
