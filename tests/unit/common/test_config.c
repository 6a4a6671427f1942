/*
 * Unit tests of common/config: every type, ranges, precedence (flag > env >
 * default), bool forms, unknown flags, missing values, required settings,
 * --help text, and that errors name the setting and map to exit code 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

static const char *const colors[] = {"red", "green", "blue", NULL};

static const cfg_setting test_settings[] = {
    {.name = "port",
     .flag = "--port",
     .env = "T_PORT",
     .type = CFG_INT,
     .default_value = "8080",
     .help = "port to listen on",
     .min = 1,
     .max = 65535},
    {.name = "verbose",
     .flag = "--verbose",
     .env = "T_VERBOSE",
     .type = CFG_BOOL,
     .default_value = "false",
     .help = "say more"},
    {.name = "timeout",
     .flag = "--timeout",
     .env = "T_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "250ms",
     .help = "request timeout",
     .min = 1000000,
     .max = 60000000000LL},
    {.name = "max_msg",
     .flag = "--max-msg",
     .env = "T_MAX_MSG",
     .type = CFG_SIZE,
     .default_value = "1MiB",
     .help = "largest message"},
    {.name = "color",
     .flag = "--color",
     .env = "T_COLOR",
     .type = CFG_ENUM,
     .default_value = "green",
     .help = "a color",
     .choices = colors},
    {.name = "name",
     .flag = "--name",
     .env = "T_NAME",
     .type = CFG_STRING,
     .default_value = "svc",
     .help = "a name"},
    {.name = "secret",
     .flag = "--secret",
     .env = NULL,
     .type = CFG_STRING,
     .default_value = "",
     .help = "flag-only"},
};

static cfg *make_cfg(void)
{
    cfg *c = cfg_new("/usr/bin/testsvc", "A test service.");
    assert_non_null(c);
    assert_int_equal(cfg_add_common(c), 0);
    assert_int_equal(cfg_add(c, test_settings, sizeof test_settings / sizeof test_settings[0]), 0);
    return c;
}

static cfg_status parse(cfg *c, char *const *argv, char *const *envp)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return cfg_parse(c, argc, argv, envp);
}

static void test_defaults(void **state)
{
    (void)state;
    cfg *c = make_cfg();
    char *argv[] = {"testsvc", NULL};
    char *envp[] = {NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    assert_int_equal(cfg_int(c, "port"), 8080);
    assert_false(cfg_bool(c, "verbose"));
    assert_int_equal(cfg_duration_ns(c, "timeout"), 250000000);
    assert_int_equal(cfg_duration_ms(c, "timeout"), 250);
    assert_int_equal(cfg_size(c, "max_msg"), 1048576);
    assert_string_equal(cfg_enum(c, "color"), "green");
    assert_int_equal(cfg_enum_index(c, "color"), 1);
    assert_string_equal(cfg_string(c, "name"), "svc");
    assert_string_equal(cfg_string(c, CFG_KAFKA_BROKERS), "127.0.0.1:9092");
    assert_string_equal(cfg_string(c, CFG_MONGO_URI), "mongodb://127.0.0.1:27017");
    assert_string_equal(cfg_string(c, CFG_MONGO_DB), "collab");
    assert_string_equal(cfg_string(c, CFG_REDIS_URL), "redis://127.0.0.1:6379");
    assert_string_equal(cfg_enum(c, CFG_LOG_LEVEL), "info");
    assert_string_equal(cfg_source(c, "port"), "default");
    cfg_free(c);
}

static void test_precedence(void **state)
{
    (void)state;
    cfg *c = make_cfg();
    /* flag beats env beats default; the last of repeated flags wins */
    char *argv[] = {"testsvc", "--port=9000", "--name", "from-flag", "--port", "9001", NULL};
    char *envp[] = {"T_PORT=7000",  "T_NAME=from-env",
                    "T_COLOR=blue", "COLLAB_KAFKA_BROKERS=k1:9092,k2:9092",
                    "T_VERBOSE=",   NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    assert_int_equal(cfg_int(c, "port"), 9001);
    assert_string_equal(cfg_source(c, "port"), "flag");
    assert_string_equal(cfg_string(c, "name"), "from-flag");
    assert_string_equal(cfg_enum(c, "color"), "blue");
    assert_string_equal(cfg_source(c, "color"), "env");
    assert_string_equal(cfg_string(c, CFG_KAFKA_BROKERS), "k1:9092,k2:9092");
    /* an empty variable counts as unset */
    assert_string_equal(cfg_source(c, "verbose"), "default");
    cfg_free(c);
}

static void test_invalid_env_overridden_by_flag(void **state)
{
    (void)state;
    cfg *c = make_cfg();
    char *argv[] = {"testsvc", "--port", "10", NULL};
    char *envp[] = {"T_PORT=not-a-number", NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    assert_int_equal(cfg_int(c, "port"), 10);
    cfg_free(c);
}

static void test_bool_forms(void **state)
{
    (void)state;
    const char *truthy[] = {"--verbose", "--verbose=true", "--verbose=1", "--verbose=YES",
                            "--verbose=on"};
    for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        cfg *c = make_cfg();
        char *argv[] = {"testsvc", (char *)truthy[i], NULL};
        char *envp[] = {NULL};
        assert_int_equal(parse(c, argv, envp), CFG_OK);
        assert_true(cfg_bool(c, "verbose"));
        cfg_free(c);
    }
    cfg *c = make_cfg();
    char *argv[] = {"testsvc", "--no-verbose", NULL};
    char *envp[] = {"T_VERBOSE=true", NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    assert_false(cfg_bool(c, "verbose"));
    cfg_free(c);

    c = make_cfg();
    char *argv2[] = {"testsvc", NULL};
    char *envp2[] = {"T_VERBOSE=off", NULL};
    assert_int_equal(parse(c, argv2, envp2), CFG_OK);
    assert_false(cfg_bool(c, "verbose"));
    cfg_free(c);
}

static void test_durations(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t ns;
    } ok[] = {{"0", 0},
              {"1ns", 1},
              {"2us", 2000},
              {"250ms", 250000000},
              {"5s", 5000000000LL},
              {"1m30s", 90000000000LL},
              {"1.5s", 1500000000},
              {"2h", 7200000000000LL},
              {"0.25ms", 250000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        assert_int_equal(cfg_parse_duration_ns(ok[i].text, &v), 0);
        assert_int_equal(v, ok[i].ns);
    }
    const char *bad[] = {"", "5", "s", "5x", "-1s", "1.s5", ".s", "99999999999999h", "5 s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        assert_int_equal(cfg_parse_duration_ns(bad[i], &v), -1);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t bytes;
    } ok[] = {{"0", 0},           {"512", 512},      {"512B", 512},
              {"64KiB", 65536},   {"1MiB", 1048576}, {"2GiB", 2147483648LL},
              {"10MB", 10000000}, {"1kib", 1024},    {"3KB", 3000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        assert_int_equal(cfg_parse_size(ok[i].text, &v), 0);
        assert_int_equal(v, ok[i].bytes);
    }
    const char *bad[] = {
        "", "MiB", "1.5MiB", "-1", "12XB", "99999999999999999999", "9999999999TiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        assert_int_equal(cfg_parse_size(bad[i], &v), -1);
    }
}

/* Parses argv/envp expecting CFG_INVALID and an error containing `needle`s. */
static void expect_error(char *const *argv, char *const *envp, const char *needle1,
                         const char *needle2)
{
    cfg *c = make_cfg();
    assert_int_equal(parse(c, argv, envp), CFG_INVALID);
    const char *e = cfg_error(c);
    if (!strstr(e, needle1) || (needle2 && !strstr(e, needle2)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", e, needle1, needle2 ? needle2 : "");
    assert_null(strchr(e, '\n'));
    cfg_free(c);
}

static void test_errors_name_the_setting(void **state)
{
    (void)state;
    char *envp[] = {NULL};
    char *a1[] = {"testsvc", "--port=70000", NULL};
    expect_error(a1, envp, "--port", "[1, 65535]");
    char *a2[] = {"testsvc", "--port=12abc", NULL};
    expect_error(a2, envp, "\"12abc\"", "T_PORT");
    char *a3[] = {"testsvc", "--color=purple", NULL};
    expect_error(a3, envp, "--color", "red|green|blue");
    char *a4[] = {"testsvc", "--timeout=2m", NULL}; /* above the 60 s maximum */
    expect_error(a4, envp, "--timeout", "[1ms, 1m]");
    char *a5[] = {"testsvc", "--verbose=maybe", NULL};
    expect_error(a5, envp, "--verbose", "true or false");
    char *a6[] = {"testsvc", "--max-msg=lots", NULL};
    expect_error(a6, envp, "--max-msg", "size");
    char *a7[] = {"testsvc", "--bogus=1", NULL};
    expect_error(a7, envp, "unknown flag --bogus", NULL);
    char *a8[] = {"testsvc", "--port", NULL};
    expect_error(a8, envp, "--port needs a value", NULL);
    char *a9[] = {"testsvc", "stray", NULL};
    expect_error(a9, envp, "unexpected argument \"stray\"", NULL);
    char *a10[] = {"testsvc", "--no-port", NULL};
    expect_error(a10, envp, "unknown flag --no-port", NULL);
    char *a11[] = {"testsvc", NULL};
    char *bad_env[] = {"T_PORT=0", NULL};
    expect_error(a11, bad_env, "in T_PORT (--port)", "[1, 65535]");
    char *bad_level[] = {"COLLAB_LOG_LEVEL=loud", NULL};
    expect_error(a11, bad_level, "COLLAB_LOG_LEVEL", "debug|info|warn|error");
}

static void test_required_and_declaration_errors(void **state)
{
    (void)state;
    static const cfg_setting required[] = {{.name = "jwt_secret",
                                            .flag = "--jwt-secret",
                                            .env = "T_JWT",
                                            .type = CFG_STRING,
                                            .default_value = NULL,
                                            .help = "required"}};
    cfg *c = cfg_new("t", "");
    assert_int_equal(cfg_add(c, required, 1), 0);
    char *argv[] = {"t", NULL};
    char *envp[] = {NULL};
    assert_int_equal(cfg_parse(c, 1, argv, envp), CFG_INVALID);
    assert_non_null(strstr(cfg_error(c), "missing required setting --jwt-secret or T_JWT"));
    cfg_free(c);

    c = cfg_new("t", "");
    char *envp2[] = {"T_JWT=s3cret", NULL};
    assert_int_equal(cfg_add(c, required, 1), 0);
    assert_int_equal(cfg_parse(c, 1, argv, envp2), CFG_OK);
    assert_string_equal(cfg_string(c, "jwt_secret"), "s3cret");
    cfg_free(c);

    static const cfg_setting bad_default[] = {
        {.name = "n", .flag = "--n", .type = CFG_INT, .default_value = "x", .help = ""}};
    c = cfg_new("t", "");
    assert_int_equal(cfg_add(c, bad_default, 1), -1);
    assert_non_null(strstr(cfg_error(c), "invalid default"));
    cfg_free(c);

    c = make_cfg();
    assert_int_equal(cfg_add(c, test_settings, 1), -1); /* declared twice */
    assert_int_equal(cfg_set_default(c, "port", "99999"), -1);
    assert_int_equal(cfg_set_default(c, "nope", "1"), -1);
    assert_int_equal(cfg_set_default(c, CFG_METRICS_LISTEN, "127.0.0.1:9201"), 0);
    char *argv3[] = {"testsvc", NULL};
    assert_int_equal(parse(c, argv3, envp), CFG_OK);
    assert_string_equal(cfg_string(c, CFG_METRICS_LISTEN), "127.0.0.1:9201");
    cfg_free(c);
}

static void test_secret_is_never_echoed(void **state)
{
    (void)state;
    static const cfg_setting secrets[] = {{.name = "jwt_secret",
                                           .flag = "--jwt-secret",
                                           .env = "T_JWT",
                                           .type = CFG_STRING,
                                           .default_value = "dev-only-secret",
                                           .help = "HS256 key",
                                           .secret = true},
                                          {.name = "pin",
                                           .flag = "--pin",
                                           .env = "T_PIN",
                                           .type = CFG_INT,
                                           .default_value = "1234",
                                           .help = "a PIN",
                                           .min = 0,
                                           .max = 9999,
                                           .secret = true}};
    cfg *c = cfg_new("t", "");
    assert_int_equal(cfg_add(c, secrets, 2), 0);
    char *argv[] = {"t", "--pin=hunter2", NULL};
    char *envp[] = {NULL};
    assert_int_equal(cfg_parse(c, 2, argv, envp), CFG_INVALID);
    assert_null(strstr(cfg_error(c), "hunter2"));
    assert_non_null(strstr(cfg_error(c), "--pin"));
    char out[4096] = {0};
    FILE *o = fmemopen(out, sizeof out - 1, "w");
    assert_int_equal(cfg_print_help(c, o), 0);
    fclose(o);
    assert_null(strstr(out, "dev-only-secret"));
    assert_null(strstr(out, "1234"));
    assert_non_null(strstr(out, "env T_JWT; default \"(secret)\""));
    cfg_free(c);
}

static void test_positional(void **state)
{
    (void)state;
    cfg *c = make_cfg();
    cfg_allow_positional(c);
    char *argv[] = {"testsvc", "a.txt", "--port=5", "--", "--not-a-flag", NULL};
    char *envp[] = {NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    assert_int_equal(cfg_positional_count(c), 2);
    assert_string_equal(cfg_positional(c, 0), "a.txt");
    assert_string_equal(cfg_positional(c, 1), "--not-a-flag");
    assert_null(cfg_positional(c, 2));
    assert_int_equal(cfg_int(c, "port"), 5);
    cfg_free(c);
}

/* Runs cfg_parse_cli with output captured in memory. */
static int run_cli(char *const *argv, char *out, size_t out_size, char *err, size_t err_size)
{
    cfg *c = make_cfg();
    int argc = 0;
    while (argv[argc])
        argc++;
    char *envp[] = {"T_NAME=from-env", NULL};
    FILE *o = fmemopen(out, out_size, "w");
    FILE *e = fmemopen(err, err_size, "w");
    assert_non_null(o);
    assert_non_null(e);
    int code = cfg_parse_cli(c, argc, argv, envp, o, e);
    fclose(o);
    fclose(e);
    cfg_free(c);
    return code;
}

static void test_help_and_exit_codes(void **state)
{
    (void)state;
    static char out[16384], err[1024];
    char *help[] = {"testsvc", "--port=1", "--help", NULL};
    memset(out, 0, sizeof out);
    memset(err, 0, sizeof err);
    assert_int_equal(run_cli(help, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(err, "");
    static const char port_help[] = "  --port=INT\n      port to listen on\n      env T_PORT; "
                                    "default \"8080\"; an integer in [1, 65535]\n";
    const char *expect[] = {
        "usage: testsvc [flags]",
        "A test service.",
        port_help,
        "  --verbose[=BOOL], --no-verbose\n",
        "env T_TIMEOUT; default \"250ms\"; a duration like 250ms or 5s in [1ms, 1m]",
        "env T_MAX_MSG; default \"1MiB\"",
        "env T_COLOR; default \"green\"; one of red|green|blue",
        "  --secret=STRING\n      flag-only\n      default \"\"; a string\n",
        "  --kafka-brokers=STRING",
        "env COLLAB_KAFKA_BROKERS; default \"127.0.0.1:9092\"",
        "env COLLAB_MONGO_URI; default \"mongodb://127.0.0.1:27017\"",
        "env COLLAB_MONGO_DB; default \"collab\"",
        "env COLLAB_REDIS_URL; default \"redis://127.0.0.1:6379\"",
        "env COLLAB_METRICS_LISTEN; default \"127.0.0.1:9100\"",
        "env COLLAB_LOG_LEVEL; default \"info\"; one of debug|info|warn|error",
        "env COLLAB_INSTANCE_ID; default \"\"",
        "  --help, -h\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (!strstr(out, expect[i]))
            fail_msg("help lacks \"%s\":\n%s", expect[i], out);
    }

    char *bad[] = {"testsvc", "--port=0", NULL};
    memset(out, 0, sizeof out);
    memset(err, 0, sizeof err);
    assert_int_equal(run_cli(bad, out, sizeof out, err, sizeof err), 2);
    assert_string_equal(out, "");
    assert_string_equal(err, "testsvc: invalid value \"0\" for --port (T_PORT): expected an "
                             "integer in [1, 65535]\n");

    char *good[] = {"testsvc", NULL};
    assert_int_equal(run_cli(good, out, sizeof out, err, sizeof err), CFG_RUN);
}

static void test_instance_id(void **state)
{
    (void)state;
    cfg *c = make_cfg();
    char *argv[] = {"testsvc", NULL};
    char *envp[] = {NULL};
    assert_int_equal(parse(c, argv, envp), CFG_OK);
    char id[300];
    assert_int_equal(cfg_instance_id(c, id, sizeof id), 0);
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-%ld", (long)getpid());
    assert_true(strlen(id) > strlen(suffix));
    assert_string_equal(id + strlen(id) - strlen(suffix), suffix);
    cfg_free(c);

    c = make_cfg();
    char *argv2[] = {"testsvc", "--instance-id=proc-7", NULL};
    assert_int_equal(parse(c, argv2, envp), CFG_OK);
    assert_int_equal(cfg_instance_id(c, id, sizeof id), 0);
    assert_string_equal(id, "proc-7");
    char tiny[4];
    assert_int_equal(cfg_instance_id(c, tiny, sizeof tiny), -1);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_invalid_env_overridden_by_flag),
        cmocka_unit_test(test_bool_forms),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_errors_name_the_setting),
        cmocka_unit_test(test_required_and_declaration_errors),
        cmocka_unit_test(test_secret_is_never_echoed),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_help_and_exit_codes),
        cmocka_unit_test(test_instance_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
