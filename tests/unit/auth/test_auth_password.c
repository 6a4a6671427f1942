/*
 * argon2id password hashes (common/auth_password.c): hash and verify, every
 * refused input, stored strings that are not hashes, and re-hash detection.
 * Most cases use libsodium's minimum cost so the suite stays fast; one uses
 * the production defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/auth_password.h"

static const struct authpw_params fast = {1, 8192};

static void test_hash_and_verify(void **state)
{
    (void)state;
    char hash[AUTHPW_HASH_MAX];
    const char *pw = "correct horse battery staple";
    assert_int_equal(authpw_hash(&fast, pw, strlen(pw), hash), AUTHPW_OK);
    assert_non_null(strstr(hash, "$argon2id$v=19$m=8,t=1,p=1$"));
    assert_int_equal(authpw_verify(hash, pw, strlen(pw)), AUTHPW_OK);
    assert_int_equal(authpw_verify(hash, "correct horse battery stapl", strlen(pw) - 1),
                     AUTHPW_MISMATCH);
    assert_int_equal(authpw_verify(hash, "Correct horse battery staple", strlen(pw)),
                     AUTHPW_MISMATCH);
    /* A fresh salt every time. */
    char again[AUTHPW_HASH_MAX];
    assert_int_equal(authpw_hash(&fast, pw, strlen(pw), again), AUTHPW_OK);
    assert_string_not_equal(hash, again);
    assert_int_equal(authpw_verify(again, pw, strlen(pw)), AUTHPW_OK);
}

static void test_password_bytes_are_all_significant(void **state)
{
    (void)state;
    char hash[AUTHPW_HASH_MAX];
    const char pw[] = "ab\0cd";
    assert_int_equal(authpw_hash(&fast, pw, 5, hash), AUTHPW_OK);
    assert_int_equal(authpw_verify(hash, pw, 5), AUTHPW_OK);
    assert_int_equal(authpw_verify(hash, pw, 2), AUTHPW_MISMATCH); /* not cut at the NUL */
    const char *utf8 = "p\xc3\xa4ssw\xc3\xb6rd";
    assert_int_equal(authpw_hash(&fast, utf8, strlen(utf8), hash), AUTHPW_OK);
    assert_int_equal(authpw_verify(hash, utf8, strlen(utf8)), AUTHPW_OK);
}

static void test_default_parameters(void **state)
{
    (void)state;
    struct authpw_params params = authpw_params_default();
    assert_true(params.opslimit == AUTHPW_DEFAULT_OPSLIMIT);
    assert_int_equal(params.memlimit, AUTHPW_DEFAULT_MEMLIMIT);
    assert_int_equal(authpw_params_check(&params), AUTHPW_OK);
    char hash[AUTHPW_HASH_MAX];
    assert_int_equal(authpw_hash(&params, "pw", 2, hash), AUTHPW_OK);
    assert_non_null(strstr(hash, "$m=65536,t=2,p=1$"));
    assert_int_equal(authpw_verify(hash, "pw", 2), AUTHPW_OK);
    assert_int_equal(authpw_needs_rehash(hash, &params), 0);
}

static void test_refused_inputs(void **state)
{
    (void)state;
    char hash[AUTHPW_HASH_MAX] = "untouched";
    assert_int_equal(authpw_hash(&fast, "", 0, hash), AUTHPW_BAD_PASSWORD);
    assert_int_equal(authpw_hash(&fast, NULL, 3, hash), AUTHPW_BAD_PASSWORD);
    char *huge = malloc(AUTHPW_PASSWORD_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'x', AUTHPW_PASSWORD_MAX + 1);
    assert_int_equal(authpw_hash(&fast, huge, AUTHPW_PASSWORD_MAX + 1, hash), AUTHPW_BAD_PASSWORD);
    assert_int_equal(authpw_hash(&fast, huge, AUTHPW_PASSWORD_MAX, hash), AUTHPW_OK);
    assert_int_equal(authpw_verify(hash, huge, AUTHPW_PASSWORD_MAX + 1), AUTHPW_BAD_PASSWORD);
    assert_int_equal(authpw_verify(hash, huge, AUTHPW_PASSWORD_MAX), AUTHPW_OK);
    free(huge);
    assert_int_equal(authpw_verify(hash, "", 0), AUTHPW_BAD_PASSWORD);

    const struct authpw_params weak_ops = {0, 8192};
    const struct authpw_params weak_mem = {1, 1024};
    assert_int_equal(authpw_params_check(&weak_ops), AUTHPW_BAD_PARAMS);
    assert_int_equal(authpw_hash(&weak_ops, "pw", 2, hash), AUTHPW_BAD_PARAMS);
    assert_int_equal(authpw_hash(&weak_mem, "pw", 2, hash), AUTHPW_BAD_PARAMS);
}

static void test_stored_strings_that_are_not_hashes(void **state)
{
    (void)state;
    char hash[AUTHPW_HASH_MAX];
    assert_int_equal(authpw_hash(&fast, "pw", 2, hash), AUTHPW_OK);
    char truncated[AUTHPW_HASH_MAX];
    memcpy(truncated, hash, sizeof(truncated));
    truncated[strlen(truncated) / 2] = '\0';
    char bad_salt[AUTHPW_HASH_MAX];
    memcpy(bad_salt, hash, sizeof(bad_salt));
    char *salt = strrchr(bad_salt, '$') - 3;
    *salt = '*';
    const char *const bad[] = {
        "",
        "pw",
        "$2b$12$abcdefghijklmnopqrstuu5UmcKYJ1cD3Yb2a4Eo2F4l0p2Eo2hbC", /* bcrypt */
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$",
        truncated,
        bad_salt,
        NULL,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(authpw_verify(bad[i], "pw", 2), AUTHPW_BAD_HASH);
        assert_int_equal(authpw_needs_rehash(bad[i], &fast), -1);
    }
    /* A string without a NUL in the first AUTHPW_HASH_MAX bytes is not read past them. */
    char unterminated[AUTHPW_HASH_MAX];
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): unterminated on purpose
    memcpy(unterminated, "$argon2id$", 10);
    memset(unterminated + 10, 'a', sizeof(unterminated) - 10);
    assert_int_equal(authpw_verify(unterminated, "pw", 2), AUTHPW_BAD_HASH);
}

static void test_needs_rehash(void **state)
{
    (void)state;
    char hash[AUTHPW_HASH_MAX];
    assert_int_equal(authpw_hash(&fast, "pw", 2, hash), AUTHPW_OK);
    assert_int_equal(authpw_needs_rehash(hash, &fast), 0);
    const struct authpw_params more_ops = {2, 8192};
    const struct authpw_params more_mem = {1, 16384};
    assert_int_equal(authpw_needs_rehash(hash, &more_ops), 1);
    assert_int_equal(authpw_needs_rehash(hash, &more_mem), 1);

    /* An argon2i hash (older scheme) still verifies and asks to be re-hashed. */
    char legacy[crypto_pwhash_argon2i_STRBYTES];
    assert_int_equal(crypto_pwhash_argon2i_str(legacy, "pw", 2, 3, 8192), 0);
    assert_int_equal(authpw_verify(legacy, "pw", 2), AUTHPW_OK);
    assert_int_equal(authpw_verify(legacy, "pX", 2), AUTHPW_MISMATCH);
    const struct authpw_params legacy_params = {3, 8192};
    assert_int_equal(authpw_needs_rehash(legacy, &legacy_params), 1);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(authpw_status_name(AUTHPW_MISMATCH), "password_mismatch");
    for (int a = AUTHPW_OK; a <= AUTHPW_NO_MEMORY; a++) {
        for (int b = a + 1; b <= AUTHPW_NO_MEMORY; b++) {
            assert_string_not_equal(authpw_status_name((enum authpw_status)a),
                                    authpw_status_name((enum authpw_status)b));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_password_bytes_are_all_significant),
        cmocka_unit_test(test_default_parameters),
        cmocka_unit_test(test_refused_inputs),
        cmocka_unit_test(test_stored_strings_that_are_not_hashes),
        cmocka_unit_test(test_needs_rehash),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
