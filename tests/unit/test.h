/*
 * test.h — a minimal unit-test harness.  Each tests/unit/test_*.c is one
 * program: TEST(name) defines a case, main() is TEST_MAIN(), and the
 * program prints one line per case plus "N passed, N failed".  A CHECK
 * failure ends the current case (not the program) and marks it failed.
 */
#ifndef RASPUTIN_TEST_H
#define RASPUTIN_TEST_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_case {
	const char *name;
	test_fn fn;
};

extern struct test_case test_cases[];
extern int test_case_count;
extern jmp_buf test_jmp;

#define TEST_MAX 512

#define TEST(tname)                                                         \
	static void test_##tname(void);                                     \
	__attribute__((constructor)) static void test_register_##tname(void) \
	{                                                                   \
		test_cases[test_case_count].name = #tname;                  \
		test_cases[test_case_count].fn = test_##tname;              \
		test_case_count++;                                          \
	}                                                                   \
	static void test_##tname(void)

#define CHECK(expr)                                                         \
	do {                                                                \
		if (!(expr)) {                                              \
			printf("    CHECK failed: %s (%s:%d)\n", #expr,     \
			       __FILE__, __LINE__);                         \
			longjmp(test_jmp, 1);                               \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		unsigned long long check_a_ = (unsigned long long)(a);      \
		unsigned long long check_b_ = (unsigned long long)(b);      \
		if (check_a_ != check_b_) {                                 \
			printf("    CHECK_EQ failed: %s == %s (%llu != %llu) (%s:%d)\n", \
			       #a, #b, check_a_, check_b_, __FILE__, __LINE__); \
			longjmp(test_jmp, 1);                               \
		}                                                           \
	} while (0)

#define TEST_MAIN()                                                         \
	struct test_case test_cases[TEST_MAX];                              \
	int test_case_count;                                                \
	jmp_buf test_jmp;                                                   \
	int main(int argc, char **argv)                                     \
	{                                                                   \
		static int passed, failed, i;                               \
		for (i = 0; i < test_case_count; i++) {                     \
			if (argc > 1 && strstr(test_cases[i].name, argv[1]) == NULL) \
				continue;                                   \
			if (setjmp(test_jmp) == 0) {                        \
				test_cases[i].fn();                         \
				printf("ok   %s\n", test_cases[i].name);    \
				passed++;                                   \
			} else {                                            \
				printf("FAIL %s\n", test_cases[i].name);    \
				failed++;                                   \
			}                                                   \
		}                                                           \
		printf("%d passed, %d failed\n", passed, failed);           \
		return failed ? 1 : 0;                                      \
	}

#endif
