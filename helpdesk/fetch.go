package helpdesk

import (
	"fmt"
	"time"
)

// FetchState is where fetching of one folder of a mailbox stands.
type FetchState struct {
	MailboxID     int64      `db:"mailbox_id" json:"mailbox_id"`
	Folder        string     `db:"folder" json:"folder"`
	UIDValidity   uint32     `db:"uidvalidity" json:"uidvalidity"`
	LastUID       uint32     `db:"last_uid" json:"last_uid"`
	ImportUID     uint32     `db:"import_uid" json:"import_uid"` // the highest UID at the first SELECT under UIDValidity: up to it, the first import
	Fence         int64      `db:"fence" json:"fence"`
	LastRunAt     *time.Time `db:"last_run_at" json:"last_run_at"`
	LastSuccessAt *time.Time `db:"last_success_at" json:"last_success_at"`
	LastError     string     `db:"last_error" json:"last_error"`
	Failures      int        `db:"failures" json:"failures"`
}

// FetchRun is one run of the fetcher over a mailbox.
type FetchRun struct {
	ID          int64      `db:"id" json:"id"`
	MailboxID   int64      `db:"mailbox_id" json:"mailbox_id"`
	Trigger     string     `db:"trigger" json:"trigger"` // schedule, manual, idle, cli
	Fence       int64      `db:"fence" json:"fence"`
	Holder      string     `db:"holder" json:"holder"`
	StartedAt   time.Time  `db:"started_at" json:"started_at"`
	FinishedAt  *time.Time `db:"finished_at" json:"finished_at"`
	New         int        `db:"new" json:"new"`
	Duplicates  int        `db:"duplicates" json:"duplicates"`
	Quarantined int        `db:"quarantined" json:"quarantined"`
	Error       string     `db:"error" json:"error"`
}

// KeptRuns is how many runs of each mailbox are kept: a service that wakes
// on IDLE starts a run per new mail, and the status page reads them all.
const KeptRuns = 500

// KeepDoneFetchRequests is how long a served "fetch now" request is kept.
// Only open requests are read; done ones are kept a while for debugging.
const KeepDoneFetchRequests = 24 * time.Hour

// Duplicate is a message found, before download, to be one already stored.
type Duplicate struct {
	UID      uint32
	DedupKey string
}

// MessageSource says where on the IMAP server a message was found, and
// under which fence the fetch that found it writes.
type MessageSource struct {
	MailboxID   int64
	Folder      string
	UIDValidity uint32
	UID         uint32
	Fence       int64
	// QuarantineID is set when a quarantined message is retried.
	QuarantineID int64
	// Import marks mail that was in the folder before the helpdesk first
	// looked at it: stored as any other, but nobody is notified and no
	// auto-acknowledgement goes out.
	Import bool
}

// Outcome is what became of one fetched message.
type Outcome string

const (
	OutcomeNew         Outcome = "new"
	OutcomeDuplicate   Outcome = "duplicate"
	OutcomeQuarantined Outcome = "quarantined"
)

// IngestResult tells where an ingested message went.
type IngestResult struct {
	Outcome        Outcome
	ConversationID int64
	ThreadID       int64
}

func (src MessageSource) String() string {
	return fmt.Sprintf("mailbox %d folder %q uid %d/%d", src.MailboxID, src.Folder, src.UIDValidity, src.UID)
}

// QuarantinedMessage is a message that could not be stored as a
// conversation: unparsable, over the size limit or refused by the
// database. Its raw bytes are kept (only the header when it was too large
// to download) and it can be retried. Agents see an unparsable one as a
// conversation showing its raw text.
type QuarantinedMessage struct {
	ID          int64     `db:"id" json:"id"`
	MailboxID   int64     `db:"mailbox_id" json:"mailbox_id"`
	Folder      string    `db:"folder" json:"folder"`
	UIDValidity uint32    `db:"uidvalidity" json:"uidvalidity"`
	UID         uint32    `db:"uid" json:"uid"`
	Reason      string    `db:"reason" json:"reason"`
	Size        int64     `db:"size" json:"size"`
	RawComplete bool      `db:"raw_complete" json:"raw_complete"`
	RawID       int64     `db:"raw_id" json:"-"`
	Status      string    `db:"status" json:"status"` // held, retry, resolved
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
	// ConversationID is the conversation that shows an unparsable message
	// to agents (Store.Quarantined only).
	ConversationID *int64 `db:"conversation_id" json:"conversation_id,omitempty"`
}

// Audit is what the invariant checks of the tests and the fault checker
// read back: how often each customer Message-ID was stored, and whether
// writes were accepted out of fence order.
type Audit struct {
	// StoredMessageIDs counts customer threads per Message-ID; any count
	// above one is a duplicate.
	StoredMessageIDs map[string]int
	Conversations    int
	Quarantined      int
	// FenceViolations counts ledger rows written with a fence lower than
	// one already accepted before them: a stale lease holder wrote. Rows of
	// quarantined messages are left out: a retry rewrites them later under
	// its own fence.
	FenceViolations int
}

// FetchAlertAfter is how many consecutive failed runs of a mailbox make
// admins get the one "fetching is failing" mail.
const FetchAlertAfter = 3
