/*
 * chat_msg.h - what cohort-chat puts in a message, and how it shows text
 * that came from the network.
 *
 * A chat message (version 1; documented in man/cohort-chat.1, "MESSAGE
 * FORMAT"):
 *
 *   offset size field
 *        0    1 marker 0xFF (a byte UTF-8 text never holds, so a plain
 *                line from another program is told apart)
 *        1    1 format version (1)
 *        2    1 kind: 1 say, 2 me (an action), 3 nick (the sender is
 *                now called NAME; the text is its previous name),
 *                4 name (silent: the sender is called NAME, told to
 *                members that just joined)
 *        3    1 N: length of NAME, 1..63
 *        4    N NAME, UTF-8
 *      4+N      the text, UTF-8, up to the end of the message
 *
 * A message that does not start with the marker is a plain line (its
 * sender's name is the one the library reports). One that starts with it
 * but is short, of another version or kind, or whose NAME is empty,
 * too long or past the end is refused (CHAT_MSG_BAD) and counted by the
 * caller, never shown.
 */
#ifndef COHORT_TOOLS_CHAT_MSG_H
#define COHORT_TOOLS_CHAT_MSG_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_MSG_MARKER 0xFFu
#define CHAT_MSG_VERSION 1u
#define CHAT_MSG_HEADER_BYTES 4u
#define CHAT_NAME_MAX 63u

enum chat_msg_kind {
    CHAT_MSG_BAD = 0,        /* decode only: refused */
    CHAT_MSG_SAY = 1,
    CHAT_MSG_ME = 2,
    CHAT_MSG_NICK = 3,
    CHAT_MSG_NAME = 4,
    CHAT_MSG_PLAIN = 5,      /* decode only: no marker, all text */
};

struct chat_msg {
    enum chat_msg_kind kind;
    const char *name;        /* points into the message; not NUL-ended */
    size_t name_len;         /* 0 for PLAIN */
    const char *text;
    size_t text_len;
};

/* Encode kind (SAY, ME, NICK or NAME), name and text into out (cap
 * bytes). Returns the length, or 0 if it does not fit or an argument is
 * bad (kind, name empty or longer than CHAT_NAME_MAX). */
size_t chat_msg_encode(uint8_t *out, size_t cap, enum chat_msg_kind kind,
                       const char *name, size_t name_len,
                       const char *text, size_t text_len);

/* Decode len bytes at data into *m (pointers into data). Returns m->kind;
 * CHAT_MSG_BAD leaves the other fields zero. */
enum chat_msg_kind chat_msg_decode(const void *data, size_t len,
                                   struct chat_msg *m);

/* Copy untrusted text into out (cap bytes, NUL-terminated, cap >= 1) so
 * that it cannot drive a terminal: valid UTF-8 is kept; control
 * characters (C0, DEL, C1), bidirectional overrides and malformed or
 * overlong sequences become '?'; a tab becomes a space; trailing CR and
 * LF are dropped. Stops at a character boundary when out is full.
 * Returns the bytes written (without the NUL). */
size_t chat_sanitize(const char *in, size_t len, char *out, size_t cap);

/* Is name acceptable for /nick: 1..CHAT_NAME_MAX bytes of valid UTF-8
 * without control characters or spaces at either end? 1 yes, 0 no. */
int chat_name_ok(const char *name, size_t len);

#endif /* COHORT_TOOLS_CHAT_MSG_H */
