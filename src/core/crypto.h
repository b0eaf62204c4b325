/*
 * crypto.h - datagram sealing, the one path every datagram type goes
 * through (docs/security.md).
 *
 * The core builds a whole datagram (header with CO_FLAG_* already set by
 * co_crypto_flags(), then body), then calls co_crypto_seal(), which appends
 * the trailer (MAC, or AEAD tag after encrypting the body in place). On
 * receipt, co_crypto_open() runs right after the header decodes and before
 * any protocol state is touched. No datagram type opts in or out.
 *
 * Without libsodium only COHORT_SECURITY_NONE is available.
 */
#ifndef COHORT_CRYPTO_H
#define COHORT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "cohort.h"
#include "wire.h"

#define CO_CRYPTO_MAX_KEYS 2 /* current + previous, for a key rollover */
#define CO_CRYPTO_AES_CACHE 8 /* AES-256-GCM key schedules kept */
#define CO_CRYPTO_AES_STATE 512 /* >= sizeof crypto_aead_aes256gcm_state */

/* An AES-256-GCM key, expanded, of one (key slot, sender, incarnation,
 * group): deriving and expanding it costs about as much as sealing a
 * 1 000-byte body, and a member hears few senders. */
typedef struct co_aes_key {
    _Alignas(16) unsigned char state[CO_CRYPTO_AES_STATE];
    uint32_t sender_id, incarnation, group_id;
    int slot;                   /* keys[] index; -1: empty */
} co_aes_key_t;

typedef struct co_crypto {
    cohort_security_t mode;
    cohort_cipher_t cipher;     /* sealing now: XCHACHA20POLY1305 or
                                   AES256GCM (never FASTEST) */
    int negotiate;              /* configured FASTEST: cipher is AES256GCM
                                   while aes_ok and no member heard says
                                   it cannot open it (CO_FLAG_NOAES) */
    int aes_ok;                 /* this CPU can open AES-256-GCM (and
                                   nothing turned it off) */
    struct {
        int in_use;
        uint8_t id;
        uint8_t key[COHORT_KEY_BYTES];
    } keys[CO_CRYPTO_MAX_KEYS];
    int send_slot; /* index into keys used to seal */
    /* Direct-mapped by sender: what it holds follows from the keys and
     * the header fields alone, so a forged header can only evict. */
    co_aes_key_t aes[CO_CRYPTO_AES_CACHE];
} co_crypto_t;

/* Errors: NOCRYPTO (mode needs libsodium and it is absent), INVAL.
 * The caller must have run sodium_init() (the IO edge does in
 * cohort_open(); tests in their setup): it reads the system's randomness,
 * which the core never does. */
int co_crypto_init(co_crypto_t *c, cohort_security_t mode,
                   const uint8_t key[COHORT_KEY_BYTES], uint8_t key_id);

/* Seal with cipher from now on (after co_crypto_init(); the default is
 * XChaCha20-Poly1305). FASTEST: AES-256-GCM where this CPU has it, as long
 * as co_crypto_members_without_aes() is told of none, else XChaCha20-
 * Poly1305. Either cipher is opened whatever this is. Errors: INVAL
 * (unknown cipher), NOCRYPTO (AES256GCM and this CPU or build cannot). */
int co_crypto_use_cipher(co_crypto_t *c, cohort_cipher_t cipher);

/* Act as a CPU without AES-256-GCM: never open or seal it, and say so in
 * every datagram (CO_FLAG_NOAES). Before co_crypto_use_cipher(); for
 * tests (COHORT_AES=0). */
void co_crypto_disable_aes(co_crypto_t *c);

/* n members heard (in this life of theirs) cannot open AES-256-GCM: with
 * FASTEST, seal with XChaCha20-Poly1305 while n > 0, AES-256-GCM again
 * when it is 0. Without FASTEST, nothing changes. */
void co_crypto_members_without_aes(co_crypto_t *c, size_t n);

/* Set to AES256GCM (not FASTEST): seals with nothing else. */
int co_crypto_pinned_aes(const co_crypto_t *c);

/* 1 if cipher can be used here (FASTEST: 1 with libsodium), else 0. The
 * caller must have run sodium_init(). */
int co_crypto_cipher_available(cohort_cipher_t cipher);

/* Add a key accepted on receipt (rollover); make it the sealing key when
 * use_for_send. Errors: INVAL, NOCRYPTO. */
int co_crypto_add_key(co_crypto_t *c, const uint8_t key[COHORT_KEY_BYTES],
                      uint8_t key_id, int use_for_send);

/* Wipe every key. */
void co_crypto_wipe(co_crypto_t *c);

/* Zero n bytes in a way the compiler cannot drop. */
void co_crypto_wipe_bytes(void *p, size_t n);

/* Flags and key id the header of an outgoing datagram must carry. */
uint8_t co_crypto_flags(const co_crypto_t *c);
uint8_t co_crypto_send_key_id(const co_crypto_t *c);

/* Bytes the trailer adds (0 or CO_TRAILER_BYTES). */
size_t co_crypto_overhead(const co_crypto_t *c);

/* dgram holds header + body (len bytes) and has room for the trailer.
 * Seals in place; returns the new length. */
size_t co_crypto_seal(co_crypto_t *c, uint8_t *dgram, size_t len);

/* Verify (and decrypt in place) a datagram whose header h decoded, with
 * the cipher its flags name. Returns 0 or a negative drop code:
 * SECURITY_MODE (flags do not match our mode, or name AES-256-GCM where
 * this CPU cannot open it), KEY_UNKNOWN, AUTH. On success the body is
 * plaintext. */
int co_crypto_open(co_crypto_t *c, const co_header_t *h, uint8_t *dgram,
                   size_t len);

#endif
