/* SPDX-License-Identifier: MIT */
/*
 * gate26-sendmail: the sendmail command alone (installed set-group-id as
 * /usr/libexec/gate26/sendmail, docs/packaging.md), so that the privileged
 * binary holds nothing but sendmail/.
 */
#include "sendmail/sendmail.h"

int
main(int argc, char **argv)
{
    return sendmail_main(argc, argv);
}
