/*
 * escape.h - writing untrusted bytes out safely: UTF-8 validation, JSON
 * strings, base64 and the one-line text form of cohort-sub.
 *
 * Every writer takes any bytes (nothing is assumed about them) and writes
 * to a stdio stream; none allocates.
 */
#ifndef COHORT_TOOLS_ESCAPE_H
#define COHORT_TOOLS_ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Length (1..4) of the valid UTF-8 sequence at s[0..len), or 0 if none
 * starts there (a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, or cut short). */
size_t esc_utf8_seq(const uint8_t *s, size_t len);

/* Is s[0..len) entirely valid UTF-8? 1 or 0. */
int esc_utf8_valid(const uint8_t *s, size_t len);

/* s[0..len) as a JSON string, quotes included (RFC 8259): '"' and '\\'
 * escaped, control bytes as \n, \t, \r, \b, \f or \u00XX, DEL as \u007f;
 * valid UTF-8 as is; a byte that starts no valid sequence becomes \ufffd
 * (so the output is always valid JSON; callers that need the exact bytes
 * check esc_utf8_valid() first and use base64). */
void esc_json_string(FILE *f, const uint8_t *s, size_t len);

/* s[0..len) in standard base64 (RFC 4648, '=' padding, no line breaks). */
void esc_base64(FILE *f, const uint8_t *s, size_t len);

/* s[0..len) on one line, safe for a terminal: valid UTF-8 outside the
 * control ranges as is; '\\' as "\\\\", newline as "\\n", tab as "\\t",
 * carriage return as "\\r"; every other control byte (C0, DEL, and the
 * bytes of C1 characters U+0080..U+009F) and every byte that starts no
 * valid UTF-8 sequence as "\\xHH". */
void esc_text(FILE *f, const uint8_t *s, size_t len);

#endif /* COHORT_TOOLS_ESCAPE_H */
