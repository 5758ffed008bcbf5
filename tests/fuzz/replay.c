/*
 * replay.c - runs a libFuzzer target without libFuzzer, so that every
 * build (gcc included) compiles the targets and ctest keeps their
 * invariants: each file of the seed corpus as it is, then a fixed number
 * of seeded mutations of it (bytes flipped, set, cut), then random inputs
 * over the alphabet the target cares about.  Deterministic: the same seed
 * gives the same inputs.  The target aborts on a broken invariant.
 *
 *   replay [-n MUTATIONS] [-r RANDOM] [-a ALPHABET] [corpus dir ...]
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t next_rand(void)
{
    /* xorshift64*: small, and the same on every machine */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Du) >> 32);
}

/* The input in a heap block of exactly its size, so ASan sees overreads. */
static void run(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    if (n)
        memcpy(copy, p, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

static void mutate_and_run(const uint8_t *p, size_t n, int mutations)
{
    static uint8_t buf[MAX_INPUT];
    for (int k = 0; k < mutations; k++) {
        size_t m = n;
        memcpy(buf, p, n);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits && m > 0; e++) {
            size_t at = next_rand() % m;
            switch (next_rand() % 4) {
            case 0: buf[at] ^= (uint8_t)(1u << (next_rand() % 8)); break;
            case 1: buf[at] = (uint8_t)next_rand(); break;
            case 2: m = at; break;                          /* cut */
            default: buf[at] = (uint8_t)(next_rand() % 2 ? 0x00 : 0xFF); break;
            }
        }
        run(buf, m);
    }
}

static int replay_dir(const char *dir, int mutations, long *files)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    static uint8_t buf[MAX_INPUT];
    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        run(buf, n);
        mutate_and_run(buf, n, mutations);
        (*files)++;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    int mutations = 200;
    long random_inputs = 0, files = 0;
    const char *alphabet = NULL;
    int i = 1;

    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-n") == 0)
            mutations = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-r") == 0)
            random_inputs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-a") == 0)
            alphabet = argv[i + 1];
        else
            break;
    }
    run((const uint8_t *)"", 0);
    for (; i < argc; i++)
        if (replay_dir(argv[i], mutations, &files) < 0)
            return 2;
    if (random_inputs > 0) {
        /* an empty alphabet stands for every byte; "\0" in it is a NUL */
        size_t alen = alphabet ? strlen(alphabet) : 0;
        uint8_t in[64];
        for (long k = 0; k < random_inputs; k++) {
            size_t n = next_rand() % sizeof in;
            for (size_t j = 0; j < n; j++) {
                if (!alen) {
                    in[j] = (uint8_t)next_rand();
                } else {
                    size_t c = next_rand() % (alen + 1);
                    in[j] = c == alen ? 0 : (uint8_t)alphabet[c];
                }
            }
            run(in, n);
        }
    }
    printf("replay: %ld corpus files, %d mutations each, %ld random inputs: clean\n", files,
           mutations, random_inputs);
    return 0;
}
