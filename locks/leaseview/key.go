package leaseview

import "strconv"

// Key is the Redis key of a mailbox's fetch lease. It is the only place a
// lock name is built, and it depends on nothing but the mailbox ID: a name
// derived from anything else (environment, request, host) lets two callers
// disagree about which lock they hold. The {mbox:ID} hash tag keeps every
// key of one mailbox in one Redis Cluster slot.
func Key(mailboxID int64) string {
	return "helpdesk:fetchlock:{mbox:" + strconv.FormatInt(mailboxID, 10) + "}"
}
