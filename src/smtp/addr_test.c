/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for addr.c: Path, Mailbox, Local-part, Domain and
 * address-literal by RFC 5321 4.1.2 / 4.1.3 with RFC 6531 3.3 UTF-8. Tables
 * of valid and hostile paths check the result, the stored text and flags;
 * loops try every ASCII octet in each position of the grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/addr.h"

#define NUL_OK SMTP_PATH_NULL_OK
#define PM_OK  SMTP_PATH_POSTMASTER_OK
#define ANY_OK (SMTP_PATH_NULL_OK | SMTP_PATH_POSTMASTER_OK)
#define OK     SMTP_ADDR_OK
#define SYNTAX SMTP_ADDR_SYNTAX
#define L_LONG SMTP_ADDR_LOCAL_TOO_LONG
#define D_LONG SMTP_ADDR_DOMAIN_TOO_LONG

/* Expected flags of a parsed address. */
#define F_NULL   0x01u
#define F_PM     0x02u
#define F_LIT    0x04u
#define F_UTF8   0x08u
#define F_QUOTED 0x10u

struct row {
    const char *in;
    size_t len; /* 0: strlen(in) */
    unsigned flags;
    enum smtp_addr_result want;
    const char *text; /* on OK: the text; NULL: same as in without "<" ">" */
    unsigned bits;    /* F_* on OK */
};

/* An explicit length, for rows holding a NUL. */
#define N(s) s, sizeof(s) - 1

static const struct row rows[] = {
    /* plain mailboxes */
    {"<user@example.com>", 0, 0, OK, NULL, 0},
    {"<USER@EXAMPLE.COM>", 0, 0, OK, NULL, 0},
    {"<a@b>", 0, 0, OK, NULL, 0},
    {"<0@0>", 0, 0, OK, NULL, 0},
    {"<a.b.c@example.com>", 0, 0, OK, NULL, 0},
    {"<first.last@sub.example.co.uk>", 0, 0, OK, NULL, 0},
    {"<user+tag@example.com>", 0, 0, OK, NULL, 0},
    {"<!#$%&'*+-/=?^_`{|}~@example.com>", 0, 0, OK, NULL, 0},
    {"<a.!.#@example.com>", 0, 0, OK, NULL, 0},
    {"<a@1.2.3.4>", 0, 0, OK, NULL, 0}, /* a Domain of digit labels, not a literal */
    {"<a@xn--bcher-kva.example>", 0, 0, OK, NULL, 0},
    {"<a@a-b.example>", 0, 0, OK, NULL, 0},
    {"<a@a--b.example>", 0, 0, OK, NULL, 0},
    {"<a@1a.2b>", 0, 0, OK, NULL, 0},
    {"<a@A-1-B>", 0, 0, OK, NULL, 0},
    {"<user@example.com>", 0, ANY_OK, OK, NULL, 0},
    /* quoted local parts: quotes and escapes kept as sent */
    {"<\"john doe\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a\\\"b\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a@b\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a\\\\b\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a\\ b\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"\\~\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"<>[]:;,.\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a.\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\".a..b\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\" \"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"user\"@example.com>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a>b\"@x>", 0, 0, OK, NULL, F_QUOTED},
    {"<\"a\"@[1.2.3.4]>", 0, 0, OK, NULL, F_QUOTED | F_LIT},
    /* source routes: parsed, then dropped */
    {"<@a.example,@b.example:u@c.example>", 0, 0, OK, "u@c.example", 0},
    {"<@a.example:u@c.example>", 0, 0, OK, "u@c.example", 0},
    {"<@a:\"q r\"@[IPv6:::1]>", 0, 0, OK, "\"q r\"@[IPv6:::1]", F_QUOTED | F_LIT},
    {"<@a,@b,@c,@d:u@e>", 0, 0, OK, "u@e", 0},
    {"<@\xc3\xa9.example:u@c.example>", 0, 0, OK, "u@c.example", F_UTF8},
    /* IPv4 literals */
    {"<u@[192.0.2.1]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[0.0.0.0]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[255.255.255.255]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[001.02.3.4]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[10.0.0.255]>", 0, 0, OK, NULL, F_LIT},
    /* IPv6 literals, every form of RFC 5321 4.1.3 */
    {"<u@[IPv6:2001:db8::1]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::1]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1::]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3:4:5:6:7:8]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:ffff:FFFF:0:00:000:0000:aBcD:1]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[ipv6:ABCD:ef01::]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPV6:1::2]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1::2:3:4:5:6]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3:4:5::6]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3::4:5:6]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3:4:5:6::]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::1:2:3:4:5:6]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::ffff:192.0.2.1]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3:4:5:6:1.2.3.4]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::1.2.3.4]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1:2:3:4::1.2.3.4]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1::2:3:4:1.2.3.4]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:::1:2:3:4:255.255.255.255]>", 0, 0, OK, NULL, F_LIT},
    {"<u@[IPv6:1234:5678:9abc:def0:1234:5678:9abc:def0]>", 0, 0, OK, NULL, F_LIT},
    /* UTF-8 (RFC 6531 3.3) in atext, qtextSMTP and sub-domain */
    {"<\xc3\xa9l\xc3\xa8ve@exemple.fr>", 0, 0, OK, NULL, F_UTF8},
    {"<user@\xe4\xbe\x8b\xe3\x81\x88.jp>", 0, 0, OK, NULL, F_UTF8},
    {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>", 0, 0, OK, NULL,
     F_UTF8},
    {"<\"\xc3\xa9 x\"@example.com>", 0, 0, OK, NULL, F_UTF8 | F_QUOTED},
    {"<\xf0\x9f\x98\x80@example.com>", 0, 0, OK, NULL, F_UTF8},
    {"<\xf4\x8f\xbf\xbf@x>", 0, 0, OK, NULL, F_UTF8}, /* U+10FFFF */
    {"<\xc2\x80@x>", 0, 0, OK, NULL, F_UTF8},         /* U+0080 */
    {"<\xdf\xbf@x>", 0, 0, OK, NULL, F_UTF8},         /* U+07FF */
    {"<\xe0\xa0\x80@x>", 0, 0, OK, NULL, F_UTF8},     /* U+0800 */
    {"<\xed\x9f\xbf@x>", 0, 0, OK, NULL, F_UTF8},     /* U+D7FF */
    {"<\xee\x80\x80@x>", 0, 0, OK, NULL, F_UTF8},     /* U+E000 */
    {"<\xef\xbf\xbf@x>", 0, 0, OK, NULL, F_UTF8},     /* U+FFFF */
    {"<\xf0\x90\x80\x80@x>", 0, 0, OK, NULL, F_UTF8}, /* U+10000 */
    {"<a@\xc3\xa9-\xc3\xa9.example>", 0, 0, OK, NULL, F_UTF8},
    {"<a@\xc3\xa9>", 0, 0, OK, NULL, F_UTF8},
    {"<a@x\xc3\xa9>", 0, 0, OK, NULL, F_UTF8},
    /* the null path and Postmaster */
    {"<>", 0, NUL_OK, OK, "", F_NULL},
    {"<>", 0, ANY_OK, OK, "", F_NULL},
    {"<Postmaster>", 0, PM_OK, OK, "Postmaster", F_PM},
    {"<postmaster>", 0, PM_OK, OK, "Postmaster", F_PM},
    {"<POSTMASTER>", 0, ANY_OK, OK, "Postmaster", F_PM},
    {"<pOsTmAsTeR>", 0, PM_OK, OK, "Postmaster", F_PM},
    {"<Postmaster@example.com>", 0, PM_OK, OK, NULL, 0},
    {"<postmaster@example.com>", 0, 0, OK, NULL, 0},
    {"<Postmaster.x@example.com>", 0, PM_OK, OK, NULL, 0},

    /* hostile: forms the flags do not allow */
    {"<>", 0, 0, SYNTAX, NULL, 0},
    {"<>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<Postmaster>", 0, 0, SYNTAX, NULL, 0},
    {"<Postmaster>", 0, NUL_OK, SYNTAX, NULL, 0},
    {"<Postmaster >", 0, PM_OK, SYNTAX, NULL, 0},
    {"< Postmaster>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<Post master>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<Postmasters>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<Postmaste>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<\"Postmaster\">", 0, PM_OK, SYNTAX, NULL, 0},
    {"<@a:Postmaster>", 0, PM_OK, SYNTAX, NULL, 0},
    {"<Postmaster@>", 0, PM_OK, SYNTAX, NULL, 0},
    {"Postmaster", 0, PM_OK, SYNTAX, NULL, 0},
    {"< >", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<<>>", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<\"\">", 0, ANY_OK, SYNTAX, NULL, 0},
    /* hostile: brackets */
    {"", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<", 0, ANY_OK, SYNTAX, NULL, 0},
    {">", 0, ANY_OK, SYNTAX, NULL, 0},
    {"user@example.com", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<user@example.com", 0, ANY_OK, SYNTAX, NULL, 0},
    {"user@example.com>", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<<user@example.com>>", 0, ANY_OK, SYNTAX, NULL, 0},
    {"(<user@example.com>)", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<user@example.com)", 0, ANY_OK, SYNTAX, NULL, 0},
    {"[user@example.com]", 0, ANY_OK, SYNTAX, NULL, 0},
    {"\"<user@example.com>\"", 0, ANY_OK, SYNTAX, NULL, 0},
    {"Name <user@example.com>", 0, ANY_OK, SYNTAX, NULL, 0},
    /* hostile: spaces anywhere */
    {"< user@example.com>", 0, 0, SYNTAX, NULL, 0},
    {"<user@example.com >", 0, 0, SYNTAX, NULL, 0},
    {"<user @example.com>", 0, 0, SYNTAX, NULL, 0},
    {"<user@ example.com>", 0, 0, SYNTAX, NULL, 0},
    {"<us er@example.com>", 0, 0, SYNTAX, NULL, 0},
    {"<user@exa mple.com>", 0, 0, SYNTAX, NULL, 0},
    {"<@a.example, @b.example:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a.example: u@c>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: more than one '@', empty parts */
    {"<user@ours@other>", 0, 0, SYNTAX, NULL, 0},
    {"<user@ours@other.example>", 0, ANY_OK, SYNTAX, NULL, 0},
    {"<user%other@ours>", 0, 0, OK, NULL, 0}, /* '%' is atext: legal, relay is policy's job */
    {"<user!other@ours>", 0, 0, OK, NULL, 0},
    {"<@x>", 0, 0, SYNTAX, NULL, 0},
    {"<user@>", 0, 0, SYNTAX, NULL, 0},
    {"<user>", 0, 0, SYNTAX, NULL, 0},
    {"<@>", 0, 0, SYNTAX, NULL, 0},
    {"<user@@example.com>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: dots */
    {"<user@example.com.>", 0, 0, SYNTAX, NULL, 0},
    {"<user@.example.com>", 0, 0, SYNTAX, NULL, 0},
    {"<user@example..com>", 0, 0, SYNTAX, NULL, 0},
    {"<user@.>", 0, 0, SYNTAX, NULL, 0},
    {"<.user@x>", 0, 0, SYNTAX, NULL, 0},
    {"<user.@x>", 0, 0, SYNTAX, NULL, 0},
    {"<us..er@x>", 0, 0, SYNTAX, NULL, 0},
    {"<.@x>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: labels */
    {"<user@-a.example>", 0, 0, SYNTAX, NULL, 0},
    {"<user@a-.example>", 0, 0, SYNTAX, NULL, 0},
    {"<user@a.example->", 0, 0, SYNTAX, NULL, 0},
    {"<user@->", 0, 0, SYNTAX, NULL, 0},
    {"<user@a_b.example>", 0, 0, SYNTAX, NULL, 0},
    {"<user@a+b.example>", 0, 0, SYNTAX, NULL, 0},
    {"<user@a/b>", 0, 0, SYNTAX, NULL, 0},
    {"<user@a\\.b>", 0, 0, SYNTAX, NULL, 0},
    {"<user@\"a\">", 0, 0, SYNTAX, NULL, 0},
    {"<user@*.example>", 0, 0, SYNTAX, NULL, 0},
    {"<user@\xc3\xa9->", 0, 0, SYNTAX, NULL, 0},
    {"<user@-\xc3\xa9>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: quoting */
    {"<a\\b@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\\a@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"abc@x>", 0, 0, SYNTAX, NULL, 0},
    {"<abc\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\"b@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\"b\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a.\"b\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\".b@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\"\"b\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\">", 0, 0, SYNTAX, NULL, 0},
    {"<\"", 0, 0, SYNTAX, NULL, 0},
    {"<\"\\", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\tb\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\x7f\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\x7f\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\t\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\xc3\xa9\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<(comment)a@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a(comment)@x>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: source routes */
    {"<@a.example,u@c.example>", 0, 0, SYNTAX, NULL, 0},
    {"<@a.example:>", 0, 0, SYNTAX, NULL, 0},
    {"<@a.example,:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<,@a:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a.example;u@c.example>", 0, 0, SYNTAX, NULL, 0},
    {"<@a..b:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@[1.2.3.4]:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a:@b:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a,,@b:u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a::u@c>", 0, 0, SYNTAX, NULL, 0},
    {"<@a:>", 0, NUL_OK, SYNTAX, NULL, 0},
    /* hostile: IPv4 literals */
    {"<u@[1.2.3]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[256.1.1.1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.1.1.256]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[999.1.1.1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.4.5]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[.1.2.3]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1..2.3]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1234.1.1.1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[0001.1.1.1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.4>", 0, 0, SYNTAX, NULL, 0},
    {"<u@1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[ 1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.4 ]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[-1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[0x1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.4]x>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.4].example>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[[1.2.3.4]]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[example.com]>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: General-address-literal and bad tags */
    {"<u@[foo:bar]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv4:1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[X-tag:abc]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6 :1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv66:::1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IP6:::1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[::1]>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: IPv6 literals */
    {"<u@[IPv6:zz]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6::1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6::::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:::2]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1::2::3]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1:2:3:4:5:6:7]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1::2:3:4:5:6:7]>", 0, 0, SYNTAX, NULL, 0}, /* "::" for one group: 4.1.3 */
    {"<u@[IPv6:1:2:3:4:5:6:7:8::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:12345::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5::1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1.2.3]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::256.1.1.1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1.2.3.4:1]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1.2.3.4.5]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::g]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1 ]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1%eth0]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::1/128]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::ffff:1.2.3.4::]>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7:8>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[IPv6:::a.2.3.4]>", 0, 0, SYNTAX, NULL, 0},
    /* hostile: malformed UTF-8 */
    {"<\xc0\x80@x>", 0, 0, SYNTAX, NULL, 0}, /* overlong NUL */
    {"<a\xc0\xaf"
     "b@x>",
     0, 0, SYNTAX, NULL, 0},                                 /* overlong '/' */
    {"<\xc1\xbf@x>", 0, 0, SYNTAX, NULL, 0},                 /* overlong */
    {"<\xe0\x80\x80@x>", 0, 0, SYNTAX, NULL, 0},             /* overlong, 3 octets */
    {"<\xe0\x9f\xbf@x>", 0, 0, SYNTAX, NULL, 0},             /* overlong, 3 octets */
    {"<\xf0\x80\x80\x80@x>", 0, 0, SYNTAX, NULL, 0},         /* overlong, 4 octets */
    {"<\xf0\x8f\xbf\xbf@x>", 0, 0, SYNTAX, NULL, 0},         /* overlong, 4 octets */
    {"<\xed\xa0\x80@x>", 0, 0, SYNTAX, NULL, 0},             /* U+D800 */
    {"<\xed\xbf\xbf@x>", 0, 0, SYNTAX, NULL, 0},             /* U+DFFF */
    {"<\xed\xa0\x80\xed\xb0\x80@x>", 0, 0, SYNTAX, NULL, 0}, /* CESU-8 pair */
    {"<\xf4\x90\x80\x80@x>", 0, 0, SYNTAX, NULL, 0},         /* U+110000 */
    {"<\xf5\x80\x80\x80@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xf8\x88\x80\x80\x80@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xff@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xfe@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\x80@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\xbf@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xc3@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xe4\xbe@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xf0\x9f\x98@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xc3\x28@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\xe4\x28\xa0@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a@x\xc3>", 0, 0, SYNTAX, NULL, 0},
    {"<a@\xc0\x80>", 0, 0, SYNTAX, NULL, 0},
    {"<a@\xed\xa0\x80.example>", 0, 0, SYNTAX, NULL, 0},
    {"<\"\xc3\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"\xed\xa0\x80\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"\xf4\x90\x80\x80\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<u@[1.2.3.\xc3\xa9]>", 0, 0, SYNTAX, NULL, 0},
    {"<\xc3\xa9", 0, 0, SYNTAX, NULL, 0},
    /* hostile: controls, NUL, CR, LF, tab */
    {"<a\tb@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\x01b@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\x1b@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\x7f@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\rb@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\nb@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a\r\n@x>", 0, 0, SYNTAX, NULL, 0},
    {N("<a\0b@x>"), 0, SYNTAX, NULL, 0},
    {N("<a@x\0>"), 0, SYNTAX, NULL, 0},
    {N("<a@x>\0"), 0, OK, "a@x", 0}, /* the path ends at '>'; the NUL is the caller's */
    {N("<\0>"), NUL_OK, SYNTAX, NULL, 0},
    {N("\0<a@x>"), 0, SYNTAX, NULL, 0},
    {N("<\"a\0b\"@x>"), 0, SYNTAX, NULL, 0},
    {N("<\"a\\\0\"@x>"), 0, SYNTAX, NULL, 0},
    {N("<u@[1.2.3.4\0]>"), 0, SYNTAX, NULL, 0},
    {"<\"a\rb\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\nb\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\r\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<\"a\\\n\"@x>", 0, 0, SYNTAX, NULL, 0},
    {"<a@x\r>", 0, 0, SYNTAX, NULL, 0},
    {"<a@x\n>", 0, 0, SYNTAX, NULL, 0},
    {"<a@x\t>", 0, 0, SYNTAX, NULL, 0},
    {"<a@x.\r\n.example>", 0, 0, SYNTAX, NULL, 0},
    {"<a@b>\r\nRCPT TO:<c@d>", 0, 0, OK, "a@b", 0}, /* stops at '>' */
};

static void
check_row(size_t i, const struct row *r)
{
    size_t len = r->len ? r->len : strlen(r->in);
    struct cursor c;
    struct smtp_addr a;
    enum smtp_addr_result got;
    char want_text[1024];
    unsigned bits;

    memset(&a, 0x5a, sizeof a); /* the parser must initialise everything */
    cursor_init(&c, slice_make(r->in, len));
    got = smtp_addr_parse_path(&c, r->flags, &a);
    if (got != r->want) {
        fprintf(stderr, "row %zu: \"%s\" flags %u: got %d, want %d\n", i, r->in, r->flags, got,
                r->want);
        fail();
    }
    assert_true(c.p >= r->in && c.p <= r->in + len);
    assert_true(memchr(a.text, '\0', sizeof a.text) != NULL);
    if (got != SMTP_ADDR_OK) {
        assert_string_equal(a.text, "");
        assert_false(a.is_null || a.is_postmaster_bare || a.is_literal || a.local_quoted);
        return;
    }
    if (r->text != NULL) {
        snprintf(want_text, sizeof want_text, "%s", r->text);
    } else {
        const char *end = memrchr(r->in, '>', len);

        assert_non_null(end);
        assert_true(r->in[0] == '<');
        snprintf(want_text, sizeof want_text, "%.*s", (int)(end - r->in - 1), r->in + 1);
    }
    if (strcmp(a.text, want_text) != 0) {
        fprintf(stderr, "row %zu: \"%s\": text \"%s\", want \"%s\"\n", i, r->in, a.text, want_text);
        fail();
    }
    assert_int_equal(a.len, strlen(a.text));
    assert_true(c.p > r->in && c.p[-1] == '>');
    bits = (a.is_null ? F_NULL : 0) | (a.is_postmaster_bare ? F_PM : 0) |
           (a.is_literal ? F_LIT : 0) | (a.has_utf8 ? F_UTF8 : 0) | (a.local_quoted ? F_QUOTED : 0);
    if (bits != r->bits) {
        fprintf(stderr, "row %zu: \"%s\": flags %#x, want %#x\n", i, r->in, bits, r->bits);
        fail();
    }
    if (a.is_null) {
        assert_int_equal(a.len, 0);
        assert_int_equal(a.local_len, 0);
    } else if (a.is_postmaster_bare) {
        assert_int_equal(a.local_len, a.len);
    } else {
        assert_true(a.local_len <= CAP_LOCAL_PART);
        assert_int_equal(a.text[a.local_len], '@');
        assert_true(a.len - a.local_len - 1 <= CAP_DOMAIN);
    }
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(i, &rows[i]);
}

/* A path made of pieces, for the length rows. */
static enum smtp_addr_result
parse_built(const char *local, const char *domain, struct smtp_addr *a)
{
    static char buf[2048];
    struct cursor c;

    snprintf(buf, sizeof buf, "<%s@%s>", local, domain);
    cursor_init(&c, slice_make(buf, strlen(buf)));
    return smtp_addr_parse_path(&c, 0, a);
}

static void
fill(char *dst, char ch, size_t n)
{
    memset(dst, ch, n);
    dst[n] = '\0';
}

/* A domain of total octets: labels of 62 between dots (a last label may
 * reach 63). */
static void
make_domain(char *dst, size_t total)
{
    for (size_t i = 0; i < total; i++)
        dst[i] = i % 63 == 62 ? '.' : 'd';
    if (total > 0 && dst[total - 1] == '.')
        dst[total - 1] = 'd';
    dst[total] = '\0';
}

static void
test_lengths(void **state)
{
    char local[200], domain[400], q[200];
    struct smtp_addr a;
    size_t dlen;

    (void)state;
    fill(local, 'a', 64);
    assert_int_equal(parse_built(local, "example.com", &a), SMTP_ADDR_OK);
    assert_int_equal(a.local_len, 64);
    fill(local, 'a', 65);
    assert_int_equal(parse_built(local, "example.com", &a), SMTP_ADDR_LOCAL_TOO_LONG);
    assert_string_equal(a.text, "");
    fill(local, 'a', 150);
    assert_int_equal(parse_built(local, "example.com", &a), SMTP_ADDR_LOCAL_TOO_LONG);
    /* a quoted local part counts its quotes */
    q[0] = '"';
    fill(q + 1, 'q', 62);
    strcat(q, "\"");
    assert_int_equal(parse_built(q, "x", &a), SMTP_ADDR_OK);
    assert_int_equal(a.local_len, 64);
    q[0] = '"';
    fill(q + 1, 'q', 63);
    strcat(q, "\"");
    assert_int_equal(parse_built(q, "x", &a), SMTP_ADDR_LOCAL_TOO_LONG);
    /* a long local part that is also broken is a syntax error */
    fill(local, 'a', 100);
    local[50] = ' ';
    assert_int_equal(parse_built(local, "x", &a), SMTP_ADDR_SYNTAX);
    /* UTF-8 counts octets: 32 two-octet characters are 64 */
    local[0] = '\0';
    for (int i = 0; i < 32; i++)
        strcat(local, "\xc3\xa9");
    assert_int_equal(parse_built(local, "x", &a), SMTP_ADDR_OK);
    strcat(local, "a");
    assert_int_equal(parse_built(local, "x", &a), SMTP_ADDR_LOCAL_TOO_LONG);

    make_domain(domain, 255);
    assert_int_equal(strlen(domain), 255);
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_OK);
    assert_int_equal(a.len, 1 + 1 + 255);
    assert_ptr_equal(smtp_addr_domain(&a, &dlen), a.text + 2);
    assert_int_equal(dlen, 255);
    make_domain(domain, 256);
    assert_int_equal(strlen(domain), 256);
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_DOMAIN_TOO_LONG);
    make_domain(domain, 300);
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_DOMAIN_TOO_LONG);
    /* both at their longest: the whole buffer */
    fill(local, 'a', 64);
    make_domain(domain, 255);
    assert_int_equal(parse_built(local, domain, &a), SMTP_ADDR_OK);
    assert_int_equal(a.len, CAP_MAILBOX);
    assert_int_equal(strlen(a.text), CAP_MAILBOX);
    /* both too long: the local part is reported */
    fill(local, 'a', 65);
    make_domain(domain, 256);
    assert_int_equal(parse_built(local, domain, &a), SMTP_ADDR_LOCAL_TOO_LONG);

    /* an ASCII label is at most 63 octets */
    fill(domain, 'l', 63);
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_OK);
    fill(domain, 'l', 64);
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_SYNTAX);
    strcpy(domain, "a.");
    fill(domain + 2, 'l', 64);
    strcat(domain, ".b");
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_SYNTAX);
    /* a U-label is held to its domain only (its A-label is the DNS's) */
    domain[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(domain, "\xc3\xa9");
    assert_int_equal(parse_built("u", domain, &a), SMTP_ADDR_OK);
    assert_true(a.has_utf8);

    /* a source route's domain is held to 255 too, though dropped */
    {
        char buf[700];
        struct cursor c;

        make_domain(domain, 256);
        snprintf(buf, sizeof buf, "<@%s:u@x>", domain);
        cursor_init(&c, slice_make(buf, strlen(buf)));
        assert_int_equal(smtp_addr_parse_path(&c, 0, &a), SMTP_ADDR_DOMAIN_TOO_LONG);
        make_domain(domain, 255);
        snprintf(buf, sizeof buf, "<@%s:u@x>", domain);
        cursor_init(&c, slice_make(buf, strlen(buf)));
        assert_int_equal(smtp_addr_parse_path(&c, 0, &a), SMTP_ADDR_OK);
        assert_string_equal(a.text, "u@x");
    }
}

static bool
is_atext(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static enum smtp_addr_result
parse_with(const char *fmt_before, int ch, const char *after, size_t *consumed)
{
    char buf[64];
    size_t n = strlen(fmt_before);
    struct cursor c;
    struct smtp_addr a;
    enum smtp_addr_result r;

    memcpy(buf, fmt_before, n);
    buf[n++] = (char)ch;
    memcpy(buf + n, after, strlen(after));
    n += strlen(after);
    cursor_init(&c, slice_make(buf, n));
    r = smtp_addr_parse_path(&c, 0, &a);
    if (consumed != NULL)
        *consumed = (size_t)(c.p - buf);
    /* a path that ends before the input does is not what was asked */
    return r == SMTP_ADDR_OK && !cursor_at_end(&c) ? SMTP_ADDR_SYNTAX : r;
}

/* Every ASCII octet inside an atom, a quoted string, after a backslash,
 * and inside a label: accepted exactly where the grammar says. */
static void
test_every_octet(void **state)
{
    (void)state;
    for (int ch = 0; ch < 128; ch++) {
        bool want;

        want = is_atext(ch) || ch == '.';
        if ((parse_with("<a", ch, "b@x>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "atom octet %#x\n", ch);
            fail();
        }
        want = ch >= 32 && ch <= 126 && ch != '"'; /* "\\b" is a quoted-pair */
        if ((parse_with("<\"a", ch, "b\"@x>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "qtext octet %#x\n", ch);
            fail();
        }
        want = ch >= 32 && ch <= 126;
        if ((parse_with("<\"a\\", ch, "b\"@x>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "quoted-pair octet %#x\n", ch);
            fail();
        }
        want = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '.';
        if ((parse_with("<a@a", ch, "b.example>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "label octet %#x\n", ch);
            fail();
        }
        want = ch >= '0' && ch <= '9';
        if ((parse_with("<a@[1.2.3.", ch, "]>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "literal octet %#x\n", ch);
            fail();
        }
        want = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if ((parse_with("<a@[IPv6:1::", ch, "]>", NULL) == SMTP_ADDR_OK) != want) {
            fprintf(stderr, "IPv6 octet %#x\n", ch);
            fail();
        }
    }
    /* every lone octet over 0x7f is refused: none is UTF-8 alone */
    for (int ch = 0x80; ch < 0x100; ch++) {
        assert_int_equal(parse_with("<a", ch, "b@x>", NULL), SMTP_ADDR_SYNTAX);
        assert_int_equal(parse_with("<\"a", ch, "b\"@x>", NULL), SMTP_ADDR_SYNTAX);
        assert_int_equal(parse_with("<a@a", ch, "b>", NULL), SMTP_ADDR_SYNTAX);
    }
}

/* Every two-octet lead with every continuation, against RFC 3629. */
static void
test_utf8_two_octets(void **state)
{
    (void)state;
    for (int lead = 0x80; lead < 0x100; lead++) {
        for (int cont = 0; cont < 0x100; cont++) {
            char buf[16] = "<x";
            struct cursor c;
            struct smtp_addr a;
            bool want = lead >= 0xc2 && lead <= 0xdf && cont >= 0x80 && cont <= 0xbf;

            buf[2] = (char)lead;
            buf[3] = (char)cont;
            memcpy(buf + 4, "@x>", 3);
            cursor_init(&c, slice_make(buf, 7));
            if ((smtp_addr_parse_path(&c, 0, &a) == SMTP_ADDR_OK) != want) {
                fprintf(stderr, "UTF-8 %02x %02x\n", lead, cont);
                fail();
            }
        }
    }
}

/* Code point ranges at their edges, as three- and four-octet sequences. */
static void
test_utf8_edges(void **state)
{
    static const struct {
        const char *seq;
        bool ok;
    } seqs[] = {
        {"\xe0\xa0\x80", true},      {"\xe0\x9f\xbf", false},     {"\xe1\x80\x80", true},
        {"\xec\xbf\xbf", true},      {"\xed\x80\x80", true},      {"\xed\x9f\xbf", true},
        {"\xed\xa0\x80", false},     {"\xed\xbf\xbf", false},     {"\xee\x80\x80", true},
        {"\xef\xbf\xbf", true},      {"\xef\xbf\xc0", false},     {"\xef\xc0\xbf", false},
        {"\xf0\x90\x80\x80", true},  {"\xf0\x8f\xbf\xbf", false}, {"\xf1\x80\x80\x80", true},
        {"\xf3\xbf\xbf\xbf", true},  {"\xf4\x80\x80\x80", true},  {"\xf4\x8f\xbf\xbf", true},
        {"\xf4\x90\x80\x80", false}, {"\xf5\x80\x80\x80", false}, {"\xf0\x90\x80", false},
        {"\xf0\x90", false},         {"\xe1\x80", false},         {"\xf1\x80\x80\x7f", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        char buf[32];
        struct cursor c;
        struct smtp_addr a;
        enum smtp_addr_result r;

        snprintf(buf, sizeof buf, "<a%s@x%s>", seqs[i].seq, seqs[i].seq);
        cursor_init(&c, slice_make(buf, strlen(buf)));
        r = smtp_addr_parse_path(&c, 0, &a);
        if ((r == SMTP_ADDR_OK) != seqs[i].ok) {
            fprintf(stderr, "UTF-8 edge %zu\n", i);
            fail();
        }
        if (r == SMTP_ADDR_OK)
            assert_true(a.has_utf8);
    }
}

static void
test_cursor(void **state)
{
    const char *in = "<a@b> SIZE=1";
    struct cursor c;
    struct smtp_addr a;
    size_t dlen;
    const char *d;

    (void)state;
    cursor_init(&c, slice_make(in, strlen(in)));
    assert_int_equal(smtp_addr_parse_path(&c, 0, &a), SMTP_ADDR_OK);
    assert_ptr_equal(c.p, in + 5);
    d = smtp_addr_domain(&a, &dlen);
    assert_int_equal(dlen, 1);
    assert_memory_equal(d, "b", 1);

    in = "<Postmaster>";
    cursor_init(&c, slice_make(in, strlen(in)));
    assert_int_equal(smtp_addr_parse_path(&c, PM_OK, &a), SMTP_ADDR_OK);
    assert_ptr_equal(c.p, in + strlen(in));
    d = smtp_addr_domain(&a, &dlen);
    assert_int_equal(dlen, 0);
    assert_string_equal(d, "");

    in = "<>";
    cursor_init(&c, slice_make(in, strlen(in)));
    assert_int_equal(smtp_addr_parse_path(&c, NUL_OK, &a), SMTP_ADDR_OK);
    assert_ptr_equal(c.p, in + 2);
    d = smtp_addr_domain(&a, &dlen);
    assert_int_equal(dlen, 0);

    /* a cursor that stops before the '>' */
    in = "<a@b>";
    cursor_init(&c, slice_make(in, 4));
    assert_int_equal(smtp_addr_parse_path(&c, 0, &a), SMTP_ADDR_SYNTAX);
    assert_true(c.p <= in + 4);
    /* an empty cursor */
    cursor_init(&c, slice_make(in, 0));
    assert_int_equal(smtp_addr_parse_path(&c, ANY_OK, &a), SMTP_ADDR_SYNTAX);
}

static void
test_is_domain_literal_mailbox(void **state)
{
    static const struct {
        const char *s;
        bool domain, domain_utf8, literal, mailbox;
    } t[] = {
        {"example.com", true, true, false, false},
        {"a", true, true, false, false},
        {"xn--bcher-kva.example", true, true, false, false},
        {"\xc3\xa9.example", false, true, false, false},
        {"\xed\xa0\x80.example", false, false, false, false},
        {"example.com.", false, false, false, false},
        {".example.com", false, false, false, false},
        {"a..b", false, false, false, false},
        {"-a", false, false, false, false},
        {"a-", false, false, false, false},
        {"a_b", false, false, false, false},
        {"a b", false, false, false, false},
        {"", false, false, false, false},
        {"[1.2.3.4]", false, false, true, false},
        {"[IPv6:::1]", false, false, true, false},
        {"[IPv6:1:2:3:4:5:6:1.2.3.4]", false, false, true, false},
        {"[1.2.3]", false, false, false, false},
        {"[foo:bar]", false, false, false, false},
        {"[1.2.3.4] ", false, false, false, false},
        {"1.2.3.4", true, true, false, false},
        {"u@example.com", false, false, false, true},
        {"\"a b\"@example.com", false, false, false, true},
        {"\xc3\xa9@\xc3\xa9.example", false, false, false, true},
        {"u@[1.2.3.4]", false, false, false, true},
        {"u@example.com ", false, false, false, false},
        {"<u@example.com>", false, false, false, false},
        {"u@", false, false, false, false},
        {"u", true, true, false, false},
        {"u@a@b", false, false, false, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = strlen(t[i].s);

        if (smtp_addr_is_domain(t[i].s, n, false) != t[i].domain ||
            smtp_addr_is_domain(t[i].s, n, true) != t[i].domain_utf8 ||
            smtp_addr_is_literal(t[i].s, n) != t[i].literal ||
            smtp_addr_is_mailbox(t[i].s, n) != t[i].mailbox) {
            fprintf(stderr, "is_* row %zu: \"%s\"\n", i, t[i].s);
            fail();
        }
    }
    assert_false(smtp_addr_is_domain(NULL, 0, true));
    assert_false(smtp_addr_is_literal(NULL, 0));
    assert_false(smtp_addr_is_mailbox(NULL, 0));
    {
        char d[400];

        make_domain(d, 255);
        assert_true(smtp_addr_is_domain(d, 255, false));
        make_domain(d, 256);
        assert_false(smtp_addr_is_domain(d, 256, false));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_every_octet),
        cmocka_unit_test(test_utf8_two_octets),
        cmocka_unit_test(test_utf8_edges),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_is_domain_literal_mailbox),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
