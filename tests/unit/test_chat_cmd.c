/*
 * test_chat_cmd.c - what a line typed into cohort-chat asks for
 * (tools/chat_cmd.c): text is said, "//" escapes a leading '/', known
 * commands take their arguments, anything else starting with '/' is
 * refused and so never sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_cmd.h"

static struct chat_cmd parse(const char *line)
{
    struct chat_cmd c;
    chat_cmd_parse(line, strlen(line), &c);
    return c;
}

static void assert_arg(const struct chat_cmd *c, const char *want)
{
    assert_int_equal(c->arg_len, strlen(want));
    assert_memory_equal(c->arg, want, c->arg_len);
}

static void test_text_is_said(void **state)
{
    (void)state;
    struct chat_cmd c = parse("hello there");
    assert_int_equal(c.kind, CHAT_CMD_SAY);
    assert_arg(&c, "hello there");
    c = parse("  leading spaces stay\n");
    assert_int_equal(c.kind, CHAT_CMD_SAY);
    assert_arg(&c, "  leading spaces stay");
    c = parse("a/b is not a command");
    assert_int_equal(c.kind, CHAT_CMD_SAY);
}

static void test_blank_lines_are_empty(void **state)
{
    (void)state;
    assert_int_equal(parse("").kind, CHAT_CMD_EMPTY);
    assert_int_equal(parse("   \t ").kind, CHAT_CMD_EMPTY);
    assert_int_equal(parse("\r\n").kind, CHAT_CMD_EMPTY);
}

static void test_double_slash_says_the_rest(void **state)
{
    (void)state;
    struct chat_cmd c = parse("//who is there");
    assert_int_equal(c.kind, CHAT_CMD_SAY);
    assert_arg(&c, "/who is there");
    c = parse("//");
    assert_int_equal(c.kind, CHAT_CMD_SAY);
    assert_arg(&c, "/");
}

static void test_commands_without_arguments(void **state)
{
    (void)state;
    assert_int_equal(parse("/help").kind, CHAT_CMD_HELP);
    assert_int_equal(parse("/who").kind, CHAT_CMD_WHO);
    assert_int_equal(parse("/who  ").kind, CHAT_CMD_WHO);
    assert_int_equal(parse("/members").kind, CHAT_CMD_WHO);
    assert_int_equal(parse("/stats").kind, CHAT_CMD_STATS);
    assert_int_equal(parse("/quit").kind, CHAT_CMD_QUIT);
    struct chat_cmd c = parse("/quit now");
    assert_int_equal(c.kind, CHAT_CMD_ERROR);
    assert_non_null(strstr(c.error, "no argument"));
}

static void test_commands_with_arguments(void **state)
{
    (void)state;
    struct chat_cmd c = parse("/nick  bob ");
    assert_int_equal(c.kind, CHAT_CMD_NICK);
    assert_arg(&c, "bob");
    c = parse("/me waves at everyone");
    assert_int_equal(c.kind, CHAT_CMD_ME);
    assert_arg(&c, "waves at everyone");
    c = parse("/mode total");
    assert_int_equal(c.kind, CHAT_CMD_MODE);
    assert_arg(&c, "total");
    c = parse("/mode");
    assert_int_equal(c.kind, CHAT_CMD_MODE);
    assert_int_equal(c.arg_len, 0);
    assert_int_equal(parse("/nick").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/nick   ").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/me").kind, CHAT_CMD_ERROR);
}

static void test_bad_names_are_refused(void **state)
{
    (void)state;
    char longname[80];
    memset(longname, 'x', sizeof longname);
    memcpy(longname, "/nick ", 6);
    longname[6 + 64] = '\0';             /* 64 bytes: one too many */
    assert_int_equal(parse(longname).kind, CHAT_CMD_ERROR);
    longname[6 + 63] = '\0';
    assert_int_equal(parse(longname).kind, CHAT_CMD_NICK);
    assert_int_equal(parse("/nick a\033[2Jb").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/nick \xff\xfe").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/nick z\xc3\xa9ro").kind, CHAT_CMD_NICK);
}

static void test_unknown_commands_are_refused(void **state)
{
    (void)state;
    struct chat_cmd c = parse("/frobnicate the thing");
    assert_int_equal(c.kind, CHAT_CMD_ERROR);
    assert_non_null(strstr(c.error, "unknown command"));
    assert_int_equal(c.word_len, strlen("frobnicate"));
    assert_memory_equal(c.word, "frobnicate", c.word_len);
    /* A prefix of a command is not that command. */
    assert_int_equal(parse("/wh").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/whom").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/WHO").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/").kind, CHAT_CMD_ERROR);
    assert_int_equal(parse("/ who").kind, CHAT_CMD_ERROR);
}

static void test_help_names_every_command(void **state)
{
    (void)state;
    const char *h = chat_cmd_help();
    const char *const words[] = { "/who", "/nick", "/me", "/mode",
                                  "/stats", "/help", "/quit", "//" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        assert_non_null(strstr(h, words[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_said),
        cmocka_unit_test(test_blank_lines_are_empty),
        cmocka_unit_test(test_double_slash_says_the_rest),
        cmocka_unit_test(test_commands_without_arguments),
        cmocka_unit_test(test_commands_with_arguments),
        cmocka_unit_test(test_bad_names_are_refused),
        cmocka_unit_test(test_unknown_commands_are_refused),
        cmocka_unit_test(test_help_names_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
