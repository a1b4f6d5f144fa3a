package helpdesk

import "time"

// RunProgress is how far a fetch run has got through one folder of a long
// fetch (a first import of many messages): stored by the run, so the status
// page and the API of any process show it. Rate and ETA are worked out from
// these stored numbers alone.
type RunProgress struct {
	MailboxID int64     `db:"mailbox_id"`
	Fence     int64     `db:"fence"` // of the run that wrote it
	Folder    string    `db:"folder"`
	Done      int       `db:"done"`  // messages dealt with so far in this run
	Total     int       `db:"total"` // messages this run found to fetch in the folder
	StartedAt time.Time `db:"started_at"`
	UpdatedAt time.Time `db:"updated_at"` // when Done was counted
}

// Left is how many messages are still to be dealt with.
func (p RunProgress) Left() int { return max(p.Total-p.Done, 0) }

// Rate is messages per second from the folder's start to the last update;
// 0 until something is done.
func (p RunProgress) Rate() float64 {
	elapsed := p.UpdatedAt.Sub(p.StartedAt).Seconds()
	if p.Done <= 0 || elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / elapsed
}

// ETA is how long the rest takes at Rate, counted from UpdatedAt; ok is
// false while there is no rate to go by.
func (p RunProgress) ETA() (eta time.Duration, ok bool) {
	rate := p.Rate()
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(float64(p.Left()) / rate * float64(time.Second)).Round(time.Second), true
}
