/*
 * keyfile.c - group key files: one line of 64 hex digits, mode 0600
 * (docs/security.md, cohort-keygen(1)).
 *
 * This is the IO edge, so it may draw random bytes and touch the file
 * system; the core only ever sees the 32 key bytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "co_assert.h"
#include "cohort.h"

#ifdef HAVE_LIBSODIUM
#include <sodium.h>
#endif

#define KEY_HEX_CHARS (2 * COHORT_KEY_BYTES)
/* One spare byte so that an over-long file is noticed, not truncated. */
#define KEY_FILE_READ_MAX (KEY_HEX_CHARS + 2)
#define IO_TRIES_MAX 64

#ifdef HAVE_LIBSODIUM

/* Write all of buf, retrying short writes and EINTR a bounded number of
 * times. 0 or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    for (int i = 0; i < IO_TRIES_MAX && off < len; i++) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            off += (size_t)n;
    }
    if (off < len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* Fill line with a fresh key in hex and a newline. */
static void make_key_line(char line[KEY_HEX_CHARS + 2])
{
    uint8_t key[COHORT_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(line, KEY_HEX_CHARS + 1, key, sizeof key);
    line[KEY_HEX_CHARS] = '\n';
    line[KEY_HEX_CHARS + 1] = '\0';
    sodium_memzero(key, sizeof key);
}

COHORT_API int cohort_keygen(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return COHORT_ERR_INVAL;
    if (sodium_init() < 0)
        return COHORT_ERR_NOCRYPTO;
    /* O_EXCL: never overwrite a key (or anything else); O_NOFOLLOW: never
     * write through a symlink planted at path. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  S_IRUSR | S_IWUSR);
    if (fd < 0)
        return COHORT_ERR_SYSTEM;

    char line[KEY_HEX_CHARS + 2];
    make_key_line(line);
    /* fchmod: the umask may have removed owner bits; group/other bits it
     * could never have added. */
    int rc = fchmod(fd, S_IRUSR | S_IWUSR);
    if (rc == 0)
        rc = write_all(fd, line, KEY_HEX_CHARS + 1);
    if (rc == 0)
        rc = fsync(fd);
    sodium_memzero(line, sizeof line);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        (void)unlink(path); /* ours: O_EXCL created it */
        errno = saved;
        return COHORT_ERR_SYSTEM;
    }
    return COHORT_OK;
}

/* Read up to cap bytes of fd into buf; returns the count or -1 (errno). */
static ssize_t read_bounded(int fd, char *buf, size_t cap)
{
    size_t off = 0;
    for (int i = 0; i < IO_TRIES_MAX && off < cap; i++) {
        ssize_t n = read(fd, buf + off, cap - off);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n == 0)
            break;
        if (n > 0)
            off += (size_t)n;
    }
    return (ssize_t)off;
}

/* 64 hex digits, then nothing or a single newline. */
static int parse_key(const char *buf, size_t len,
                     uint8_t key[COHORT_KEY_BYTES])
{
    if (len != KEY_HEX_CHARS &&
        !(len == KEY_HEX_CHARS + 1 && buf[KEY_HEX_CHARS] == '\n'))
        return COHORT_ERR_KEY;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(key, COHORT_KEY_BYTES, buf, KEY_HEX_CHARS, NULL,
                       &bin_len, &end) != 0 ||
        bin_len != COHORT_KEY_BYTES || end != buf + KEY_HEX_CHARS) {
        sodium_memzero(key, COHORT_KEY_BYTES);
        return COHORT_ERR_KEY;
    }
    return COHORT_OK;
}

/* Like ssh: a key that others can read is no longer a secret, and a
 * device or FIFO is not a key file. */
static int check_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return COHORT_ERR_SYSTEM;
    if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return COHORT_ERR_KEY;
    if (st.st_size > KEY_HEX_CHARS + 1)
        return COHORT_ERR_KEY;
    return COHORT_OK;
}

COHORT_API int cohort_key_load(const char *path,
                               uint8_t key[COHORT_KEY_BYTES])
{
    if (path == NULL || key == NULL)
        return COHORT_ERR_INVAL;
    /* O_NONBLOCK: opening a FIFO must not hang; check_file refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return COHORT_ERR_SYSTEM;
    char buf[KEY_FILE_READ_MAX];
    int rc = check_file(fd);
    if (rc == COHORT_OK) {
        ssize_t n = read_bounded(fd, buf, sizeof buf);
        if (n < 0)
            rc = COHORT_ERR_SYSTEM;
        else
            rc = parse_key(buf, (size_t)n, key);
    }
    sodium_memzero(buf, sizeof buf);
    int saved = errno;
    (void)close(fd);
    errno = saved;
    COHORT_ASSERT(rc == COHORT_OK || rc == COHORT_ERR_KEY ||
                  rc == COHORT_ERR_SYSTEM);
    return rc;
}

#else /* !HAVE_LIBSODIUM */

COHORT_API int cohort_keygen(const char *path)
{
    (void)path;
    return COHORT_ERR_NOCRYPTO;
}

COHORT_API int cohort_key_load(const char *path,
                               uint8_t key[COHORT_KEY_BYTES])
{
    (void)path;
    (void)key;
    return COHORT_ERR_NOCRYPTO;
}

#endif /* HAVE_LIBSODIUM */
