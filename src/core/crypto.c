/*
 * crypto.c - sealing and opening datagrams (docs/security.md).
 *
 * Both secured modes use an AEAD, XChaCha20-Poly1305 (IETF construction)
 * or AES-256-GCM (CO_FLAG_AES256GCM in the header says which; FASTEST, the
 * default, takes it while no member heard sets CO_FLAG_NOAES):
 *   AUTH:    no plaintext; the whole header + body is associated data, so
 *            the 16-byte tag is a one-time MAC keyed per packet.
 *   ENCRYPT: the 36-byte header is associated data, the body is encrypted
 *            in place, the tag is the trailer.
 * XChaCha20-Poly1305 takes the group key and a 24-byte nonce built from
 * header fields. AES-256-GCM's nonce is 12 bytes, too few for those
 * fields, so each (sender, incarnation, group) gets a key of its own,
 * BLAKE2b keyed with the group key over a context string and those ids,
 * and the nonce is the packet_seq: the same uniqueness (no sender reuses a
 * packet_seq in one life) under either cipher, and the two never share a
 * key. Every input is a header field covered by the tag, so nothing here
 * draws random numbers: the core stays deterministic
 * (tests/check-sans-io.sh).
 */
#include "config.h"

#include <string.h>

#include "co_assert.h"
#include "crypto.h"

#ifdef HAVE_LIBSODIUM
#include <sodium.h>
#endif

#define CO_NONCE_BYTES 24
#define CO_AES_NONCE_BYTES 12
#define CO_AES_CONTEXT_BYTES 16

/* Header offsets the nonce is taken from (wire.h). */
#define CO_OFF_FLAGS 4
#define CO_OFF_KEY_ID 5
#define CO_OFF_BODY_LEN 6
#define CO_OFF_GROUP_ID 8
#define CO_OFF_SENDER_ID 12
#define CO_OFF_INCARNATION 16
#define CO_OFF_PACKET_SEQ 20

static int mode_valid(cohort_security_t mode)
{
    return mode == COHORT_SECURITY_NONE || mode == COHORT_SECURITY_AUTH ||
           mode == COHORT_SECURITY_ENCRYPT;
}

void co_crypto_wipe_bytes(void *p, size_t n)
{
#ifdef HAVE_LIBSODIUM
    sodium_memzero(p, n);
#else
    /* volatile keeps the compiler from dropping stores it sees as dead. */
    volatile uint8_t *v = p;
    for (size_t i = 0; i < n; i++)
        v[i] = 0;
#endif
}

void co_crypto_wipe(co_crypto_t *c)
{
    COHORT_ASSERT(c != NULL);
    for (int i = 0; i < CO_CRYPTO_MAX_KEYS; i++) {
        co_crypto_wipe_bytes(c->keys[i].key, sizeof c->keys[i].key);
        c->keys[i].in_use = 0;
        c->keys[i].id = 0;
    }
    c->send_slot = 0;
    /* The expanded AES keys are key material too. */
    co_crypto_wipe_bytes(c->aes, sizeof c->aes);
    for (int i = 0; i < CO_CRYPTO_AES_CACHE; i++)
        c->aes[i].slot = -1;
}

uint8_t co_crypto_flags(const co_crypto_t *c)
{
    COHORT_ASSERT(mode_valid(c->mode));
    uint8_t aes = c->cipher == COHORT_CIPHER_AES256GCM ? CO_FLAG_AES256GCM
                  : c->aes_ok                             ? 0
                                                          : CO_FLAG_NOAES;
    switch (c->mode) {
    case COHORT_SECURITY_AUTH:
        return CO_FLAG_SECURED | aes;
    case COHORT_SECURITY_ENCRYPT:
        return CO_FLAG_SECURED | CO_FLAG_ENCRYPTED | aes;
    default:
        return 0;
    }
}

void co_crypto_disable_aes(co_crypto_t *c)
{
    COHORT_ASSERT(c != NULL);
    c->aes_ok = 0;
    if (c->cipher == COHORT_CIPHER_AES256GCM)
        c->cipher = COHORT_CIPHER_XCHACHA20POLY1305;
}

void co_crypto_members_without_aes(co_crypto_t *c, size_t n)
{
    COHORT_ASSERT(c != NULL);
    if (c->negotiate)
        c->cipher = c->aes_ok && n == 0 ? COHORT_CIPHER_AES256GCM
                                        : COHORT_CIPHER_XCHACHA20POLY1305;
}

int co_crypto_pinned_aes(const co_crypto_t *c)
{
    COHORT_ASSERT(c != NULL);
    return c->mode != COHORT_SECURITY_NONE && !c->negotiate &&
           c->cipher == COHORT_CIPHER_AES256GCM;
}

uint8_t co_crypto_send_key_id(const co_crypto_t *c)
{
    COHORT_ASSERT(c->send_slot >= 0 && c->send_slot < CO_CRYPTO_MAX_KEYS);
    if (c->mode == COHORT_SECURITY_NONE)
        return 0;
    return c->keys[c->send_slot].id;
}

size_t co_crypto_overhead(const co_crypto_t *c)
{
    COHORT_ASSERT(mode_valid(c->mode));
    return c->mode == COHORT_SECURITY_NONE ? 0 : CO_TRAILER_BYTES;
}

/* Which flags a datagram must carry to be accepted in our mode. A peer in
 * another mode is misconfigured (or hostile); either way it is dropped and
 * counted under its own reason so the operator can see it. The cipher may
 * be either, if this CPU can open it. */
static int mode_matches(const co_crypto_t *c, uint8_t flags)
{
    const uint8_t mode_bits = CO_FLAG_SECURED | CO_FLAG_ENCRYPTED;
    if ((flags & CO_FLAG_AES256GCM) && !c->aes_ok)
        return 0;
    return (flags & mode_bits) == (co_crypto_flags(c) & mode_bits);
}

#ifdef HAVE_LIBSODIUM

int co_crypto_cipher_available(cohort_cipher_t cipher)
{
    switch (cipher) {
    case COHORT_CIPHER_XCHACHA20POLY1305:
    case COHORT_CIPHER_FASTEST:
        return 1;
    case COHORT_CIPHER_AES256GCM:
        return crypto_aead_aes256gcm_is_available() == 1;
    default:
        return 0;
    }
}

/* sender_id | incarnation | packet_seq | group_id | 0000, all copied from
 * the encoded header, so the nonce is authenticated along with it. */
static void nonce_of(const uint8_t *hdr, uint8_t nonce[CO_NONCE_BYTES])
{
    memcpy(nonce, hdr + CO_OFF_SENDER_ID, 4);
    memcpy(nonce + 4, hdr + CO_OFF_INCARNATION, 4);
    memcpy(nonce + 8, hdr + CO_OFF_PACKET_SEQ, 8);
    memcpy(nonce + 16, hdr + CO_OFF_GROUP_ID, 4);
    memset(nonce + 20, 0, 4);
}

_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= CO_CRYPTO_AES_STATE,
               "co_aes_key_t.state too small for libsodium's");

/* AES-256-GCM: the expanded key of this datagram's (key slot, sender,
 * incarnation, group), from the cache or made there: BLAKE2b keyed with
 * the group key over a context string and the ids, read from the encoded
 * header. */
static const crypto_aead_aes256gcm_state *aes_key_of(co_crypto_t *c, int slot,
                                                     const uint8_t *hdr)
{
    static const uint8_t context[CO_AES_CONTEXT_BYTES] = {
        'c', 'o', 'h', 'o', 'r', 't', ' ', 'a',
        'e', 's', '2', '5', '6', 'g', 'c', 'm'};
    uint32_t sender = co_get32(hdr + CO_OFF_SENDER_ID);
    uint32_t inc = co_get32(hdr + CO_OFF_INCARNATION);
    uint32_t group = co_get32(hdr + CO_OFF_GROUP_ID);
    co_aes_key_t *e = &c->aes[(sender ^ inc) % CO_CRYPTO_AES_CACHE];
    crypto_aead_aes256gcm_state *st = (crypto_aead_aes256gcm_state *)e->state;
    if (e->slot == slot && e->sender_id == sender && e->incarnation == inc &&
        e->group_id == group)
        return st;
    uint8_t in[CO_AES_CONTEXT_BYTES + 12];
    uint8_t key[crypto_aead_aes256gcm_KEYBYTES];
    memcpy(in, context, sizeof context);
    memcpy(in + 16, hdr + CO_OFF_SENDER_ID, 4);
    memcpy(in + 20, hdr + CO_OFF_INCARNATION, 4);
    memcpy(in + 24, hdr + CO_OFF_GROUP_ID, 4);
    /* Cannot fail: every length is within BLAKE2b's bounds. */
    (void)crypto_generichash(key, sizeof key, in, sizeof in,
                             c->keys[slot].key, COHORT_KEY_BYTES);
    (void)crypto_aead_aes256gcm_beforenm(st, key);
    sodium_memzero(key, sizeof key);
    e->slot = slot;
    e->sender_id = sender;
    e->incarnation = inc;
    e->group_id = group;
    return st;
}

/* The nonce: packet_seq | 00000000, from the encoded header. */
static void aes_nonce_of(const uint8_t *hdr, uint8_t nonce[CO_AES_NONCE_BYTES])
{
    memcpy(nonce, hdr + CO_OFF_PACKET_SEQ, 8);
    memset(nonce + 8, 0, 4);
}

static void aes_forget(co_crypto_t *c, int slot)
{
    for (int i = 0; i < CO_CRYPTO_AES_CACHE; i++) {
        if (slot < 0 || c->aes[i].slot == slot) {
            co_crypto_wipe_bytes(&c->aes[i], sizeof c->aes[i]);
            c->aes[i].slot = -1;
        }
    }
}

static void aes_seal(co_crypto_t *c, uint8_t *dgram, size_t len)
{
    const crypto_aead_aes256gcm_state *st = aes_key_of(c, c->send_slot, dgram);
    uint8_t nonce[CO_AES_NONCE_BYTES];
    uint8_t *tag = dgram + len;
    unsigned long long tag_len = 0;
    aes_nonce_of(dgram, nonce);
    if (c->mode == COHORT_SECURITY_AUTH) {
        crypto_aead_aes256gcm_encrypt_detached_afternm(
            tag, tag, &tag_len, tag, 0, dgram, len, NULL, nonce, st);
    } else {
        uint8_t *body = dgram + CO_HEADER_BYTES;
        crypto_aead_aes256gcm_encrypt_detached_afternm(
            body, tag, &tag_len, body, len - CO_HEADER_BYTES, dgram,
            CO_HEADER_BYTES, NULL, nonce, st);
    }
    COHORT_ASSERT(tag_len == CO_TRAILER_BYTES);
}

static int aes_open(co_crypto_t *c, int slot, uint8_t *dgram, size_t len)
{
    const crypto_aead_aes256gcm_state *st = aes_key_of(c, slot, dgram);
    uint8_t nonce[CO_AES_NONCE_BYTES];
    const uint8_t *tag = dgram + len;
    aes_nonce_of(dgram, nonce);
    if (c->mode == COHORT_SECURITY_AUTH)
        return crypto_aead_aes256gcm_decrypt_detached_afternm(
            NULL, NULL, tag, 0, tag, dgram, len, nonce, st);
    uint8_t *body = dgram + CO_HEADER_BYTES;
    return crypto_aead_aes256gcm_decrypt_detached_afternm(
        body, NULL, body, len - CO_HEADER_BYTES, tag, dgram, CO_HEADER_BYTES,
        nonce, st);
}

static int find_slot(const co_crypto_t *c, uint8_t id)
{
    for (int i = 0; i < CO_CRYPTO_MAX_KEYS; i++)
        if (c->keys[i].in_use && c->keys[i].id == id)
            return i;
    return -1;
}

/* Slot for a key being added: the one already holding that id (re-install),
 * else a free one, else the one we do not seal with (the older key of a
 * rollover). */
static int slot_for_add(const co_crypto_t *c, uint8_t id)
{
    int s = find_slot(c, id);
    if (s >= 0)
        return s;
    for (int i = 0; i < CO_CRYPTO_MAX_KEYS; i++)
        if (!c->keys[i].in_use)
            return i;
    return (c->send_slot + 1) % CO_CRYPTO_MAX_KEYS;
}

static void install(co_crypto_t *c, int slot,
                    const uint8_t key[COHORT_KEY_BYTES], uint8_t id)
{
    aes_forget(c, slot);
    memcpy(c->keys[slot].key, key, COHORT_KEY_BYTES);
    c->keys[slot].id = id;
    c->keys[slot].in_use = 1;
}

int co_crypto_init(co_crypto_t *c, cohort_security_t mode,
                   const uint8_t key[COHORT_KEY_BYTES], uint8_t key_id)
{
    if (c == NULL || !mode_valid(mode))
        return COHORT_ERR_INVAL;
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->cipher = COHORT_CIPHER_XCHACHA20POLY1305;
    c->aes_ok = crypto_aead_aes256gcm_is_available() == 1;
    aes_forget(c, -1);
    if (mode == COHORT_SECURITY_NONE)
        return COHORT_OK;
    if (key == NULL) {
        c->mode = COHORT_SECURITY_NONE;
        return COHORT_ERR_INVAL;
    }
    install(c, 0, key, key_id);
    c->send_slot = 0;
    return COHORT_OK;
}

int co_crypto_use_cipher(co_crypto_t *c, cohort_cipher_t cipher)
{
    if (c == NULL || (cipher != COHORT_CIPHER_XCHACHA20POLY1305 &&
                      cipher != COHORT_CIPHER_AES256GCM &&
                      cipher != COHORT_CIPHER_FASTEST))
        return COHORT_ERR_INVAL;
    if (cipher == COHORT_CIPHER_AES256GCM && !c->aes_ok)
        return COHORT_ERR_NOCRYPTO;
    c->negotiate = cipher == COHORT_CIPHER_FASTEST;
    c->cipher = c->negotiate ? COHORT_CIPHER_XCHACHA20POLY1305 : cipher;
    co_crypto_members_without_aes(c, 0); /* FASTEST: this CPU decides */
    return COHORT_OK;
}

int co_crypto_add_key(co_crypto_t *c, const uint8_t key[COHORT_KEY_BYTES],
                      uint8_t key_id, int use_for_send)
{
    if (c == NULL || key == NULL || c->mode == COHORT_SECURITY_NONE)
        return COHORT_ERR_INVAL;
    int slot = slot_for_add(c, key_id);
    COHORT_ASSERT(slot >= 0 && slot < CO_CRYPTO_MAX_KEYS);
    install(c, slot, key, key_id);
    if (use_for_send)
        c->send_slot = slot;
    COHORT_ASSERT(c->keys[c->send_slot].in_use);
    return COHORT_OK;
}

size_t co_crypto_seal(co_crypto_t *c, uint8_t *dgram, size_t len)
{
    COHORT_ASSERT(len >= CO_HEADER_BYTES &&
                  co_get16(dgram + CO_OFF_BODY_LEN) == len - CO_HEADER_BYTES);
    COHORT_ASSERT(dgram[CO_OFF_FLAGS] == co_crypto_flags(c));
    if (c->mode == COHORT_SECURITY_NONE)
        return len;

    COHORT_ASSERT(c->keys[c->send_slot].in_use &&
                  dgram[CO_OFF_KEY_ID] == c->keys[c->send_slot].id);
    const uint8_t *key = c->keys[c->send_slot].key;
    if (c->cipher == COHORT_CIPHER_AES256GCM) {
        aes_seal(c, dgram, len);
        return len + CO_TRAILER_BYTES;
    }
    uint8_t nonce[CO_NONCE_BYTES];
    nonce_of(dgram, nonce);
    uint8_t *tag = dgram + len;
    unsigned long long tag_len = 0;
    if (c->mode == COHORT_SECURITY_AUTH) {
        /* Empty message: tag doubles as the (unwritten) output pointer. */
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            tag, tag, &tag_len, tag, 0, dgram, len, NULL, nonce, key);
    } else {
        uint8_t *body = dgram + CO_HEADER_BYTES;
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            body, tag, &tag_len, body, len - CO_HEADER_BYTES, dgram,
            CO_HEADER_BYTES, NULL, nonce, key);
    }
    COHORT_ASSERT(tag_len == CO_TRAILER_BYTES);
    return len + CO_TRAILER_BYTES;
}

/* On failure libsodium clears the (in-place) body: the datagram is dropped
 * anyway, and no unverified plaintext ever reaches the core. */
static int verify(co_crypto_t *c, int slot, uint8_t *dgram,
                  size_t sealed_len)
{
    const uint8_t *key = c->keys[slot].key;
    size_t len = sealed_len - CO_TRAILER_BYTES;
    if (dgram[CO_OFF_FLAGS] & CO_FLAG_AES256GCM) {
        COHORT_ASSERT(c->aes_ok); /* mode_matches() */
        return aes_open(c, slot, dgram, len) == 0 ? 0
                                                  : CO_DROP(COHORT_DROP_AUTH);
    }
    const uint8_t *tag = dgram + len;
    uint8_t nonce[CO_NONCE_BYTES];
    nonce_of(dgram, nonce);
    int rc;
    if (c->mode == COHORT_SECURITY_AUTH) {
        /* NULL message: verify only; tag stands in for the empty input. */
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            NULL, NULL, tag, 0, tag, dgram, len, nonce, key);
    } else {
        uint8_t *body = dgram + CO_HEADER_BYTES;
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            body, NULL, body, len - CO_HEADER_BYTES, tag, dgram,
            CO_HEADER_BYTES, nonce, key);
    }
    return rc == 0 ? 0 : CO_DROP(COHORT_DROP_AUTH);
}

#else /* !HAVE_LIBSODIUM: only COHORT_SECURITY_NONE exists */

int co_crypto_init(co_crypto_t *c, cohort_security_t mode,
                   const uint8_t key[COHORT_KEY_BYTES], uint8_t key_id)
{
    (void)key;
    (void)key_id;
    if (c == NULL || !mode_valid(mode))
        return COHORT_ERR_INVAL;
    memset(c, 0, sizeof *c);
    c->mode = COHORT_SECURITY_NONE;
    c->cipher = COHORT_CIPHER_XCHACHA20POLY1305;
    return mode == COHORT_SECURITY_NONE ? COHORT_OK : COHORT_ERR_NOCRYPTO;
}

int co_crypto_cipher_available(cohort_cipher_t cipher)
{
    (void)cipher;
    return 0;
}

int co_crypto_use_cipher(co_crypto_t *c, cohort_cipher_t cipher)
{
    if (c == NULL || (cipher != COHORT_CIPHER_XCHACHA20POLY1305 &&
                      cipher != COHORT_CIPHER_AES256GCM &&
                      cipher != COHORT_CIPHER_FASTEST))
        return COHORT_ERR_INVAL;
    return cipher != COHORT_CIPHER_AES256GCM ? COHORT_OK
                                             : COHORT_ERR_NOCRYPTO;
}

int co_crypto_add_key(co_crypto_t *c, const uint8_t key[COHORT_KEY_BYTES],
                      uint8_t key_id, int use_for_send)
{
    (void)c;
    (void)key;
    (void)key_id;
    (void)use_for_send;
    return COHORT_ERR_NOCRYPTO;
}

size_t co_crypto_seal(co_crypto_t *c, uint8_t *dgram, size_t len)
{
    COHORT_ASSERT(c->mode == COHORT_SECURITY_NONE);
    COHORT_ASSERT(len >= CO_HEADER_BYTES && dgram[CO_OFF_FLAGS] == 0);
    return len;
}

static int find_slot(const co_crypto_t *c, uint8_t id)
{
    (void)c;
    (void)id;
    return -1;
}

static int verify(co_crypto_t *c, int slot, uint8_t *dgram,
                  size_t sealed_len)
{
    (void)c;
    (void)slot;
    (void)dgram;
    (void)sealed_len;
    return CO_DROP(COHORT_DROP_AUTH);
}

#endif /* HAVE_LIBSODIUM */

/* The header decoder already checked the exact length; checking again here
 * keeps the trailer arithmetic safe whoever the caller is. */
static int length_check(const co_crypto_t *c, const co_header_t *h,
                        size_t len)
{
    size_t want = CO_HEADER_BYTES + (size_t)h->body_len + co_crypto_overhead(c);
    if (len < want)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (len > want)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

int co_crypto_open(co_crypto_t *c, const co_header_t *h, uint8_t *dgram,
                   size_t len)
{
    COHORT_ASSERT(c != NULL && h != NULL && dgram != NULL);
    /* h must be the decoding of these very bytes: the tag covers the bytes,
     * the core acts on h. */
    COHORT_ASSERT(len < CO_HEADER_BYTES ||
                  (dgram[CO_OFF_FLAGS] == h->flags &&
                   dgram[CO_OFF_KEY_ID] == h->key_id &&
                   co_get16(dgram + CO_OFF_BODY_LEN) == h->body_len));
    if (!mode_matches(c, h->flags))
        return CO_DROP(COHORT_DROP_SECURITY_MODE);
    int rc = length_check(c, h, len);
    if (rc != 0 || c->mode == COHORT_SECURITY_NONE)
        return rc;
    int slot = find_slot(c, h->key_id);
    if (slot < 0)
        return CO_DROP(COHORT_DROP_KEY_UNKNOWN);
    return verify(c, slot, dgram, len);
}
