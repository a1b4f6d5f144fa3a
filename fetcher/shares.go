package fetcher

import (
	"context"
	"slices"
	"time"

	"github.com/helpdesk/helpdesk/locks"
)

// Which mailboxes are this instance's. Each mailbox has an owner among the
// live members of the fleet (rendezvous hashing with bounded shares,
// locks.Shares): that one watches it. The first two in its ranking
// (locks.Rank) look out for it: a mailbox one of them finds unheld twice,
// orphanGrace apart, it adopts until the membership changes, so none is
// left orphaned when instances see the membership differently. When the membership changes, a watcher whose
// mailbox is no longer ours hands it over between runs by releasing the
// lease, and the new owner, which retries soon, takes it at once.
//
// Membership is only a hint: the lease decides who fetches a mailbox, and
// the fence decides whose writes count.

// orphanGrace is how long a mailbox must stay unheld before the next in
// rank adopts it: time for its preferred instance to take it.
const orphanGrace = 3 * time.Second

// members is the fleet as this instance sees it, itself included: it is
// alive, whatever the last heartbeat said. Without a fleet it is alone.
func (s *Service) members() (members []string, self string) {
	if s.fleet == nil {
		return []string{""}, ""
	}
	members, self = s.fleet.Members(), s.fleet.Self()
	if !slices.Contains(members, self) {
		members = append(slices.Clone(members), self)
		slices.Sort(members)
	}
	return members, self
}

// membershipChanged receives when the fleet's members change.
func (s *Service) membershipChanged() <-chan struct{} {
	if s.fleet == nil {
		return nil
	}
	return s.fleet.Changed()
}

// share is the set of enabled mailboxes that are this instance's now: its
// share of a fair split (locks.Shares: rendezvous hashing, each share at
// most a little above an even one), then the orphans it adopted, up to
// MaxMailboxes. The caller holds s.mu.
func (s *Service) share() map[int64]bool {
	members, self := s.members()
	ids := make([]int64, 0, len(s.mailboxes))
	for id := range s.mailboxes {
		ids = append(ids, id)
	}
	shares := locks.Shares(ids, members)
	var mine, adopted []int64
	for _, id := range ids {
		switch {
		case shares[id] == self:
			mine = append(mine, id)
		case s.orphans[id]:
			adopted = append(adopted, id)
		}
	}
	slices.Sort(mine)
	slices.Sort(adopted)
	ids = append(mine, adopted...)
	if len(ids) > s.cfg.MaxMailboxes {
		s.log.Warn("fetch service: more mailboxes than this instance may own; the rest wait for another instance",
			"mailboxes", len(ids), "max", s.cfg.MaxMailboxes)
		ids = ids[:s.cfg.MaxMailboxes]
	}
	share := make(map[int64]bool, len(ids))
	for _, id := range ids {
		share[id] = true
	}
	return share
}

// reconcile starts a watcher for every mailbox of the share that has none
// and tells the watchers of mailboxes no longer ours to hand them over.
// A watcher told so ends after its current run; if the mailbox is ours
// again by then, the next reconcile starts a new one.
func (s *Service) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	share := s.share()
	for id := range share {
		if s.watchers[id] == nil {
			s.startWatcher(ctx, id)
		}
	}
	for id, w := range s.watchers {
		if !share[id] {
			w.handOver()
		}
	}
}

// startWatcher starts mailbox id's watcher. The caller holds s.mu.
func (s *Service) startWatcher(ctx context.Context, id int64) {
	w := newWatcher(ctx, s, id)
	s.watchers[id] = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		w.loop(ctx)
		s.watcherEnded(w)
	}()
}

// watcherEnded forgets an ended watcher and has the scheduler reconcile,
// in case the mailbox is ours again.
func (s *Service) watcherEnded(w *watcher) {
	s.mu.Lock()
	if s.watchers[w.id] == w {
		delete(s.watchers, w.id)
	}
	s.mu.Unlock()
	select {
	case s.ended <- struct{}{}:
	default:
	}
}

// findOrphans looks, in one round trip, which of the mailboxes this
// instance ranks first or second for, and does not watch, nobody holds
// (a full share can leave it a mailbox it ranks first), and keeps them as candidates
// for adoption after orphanGrace. It says whether there are any.
func (s *Service) findOrphans(ctx context.Context) bool {
	s.mu.Lock()
	members, self := s.members()
	var ids []int64
	for id := range s.mailboxes {
		if s.watchers[id] == nil && locks.Rank(id, members, self) <= 1 {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	s.candidates = s.unheld(ctx, ids)
	return len(s.candidates) > 0
}

// adoptOrphans adopts the candidates still unheld after the grace.
func (s *Service) adoptOrphans(ctx context.Context) {
	orphans := s.unheld(ctx, s.candidates)
	s.candidates = nil
	if len(orphans) == 0 {
		return
	}
	s.log.Info("fetch service: adopting mailboxes nobody holds", "mailboxes", orphans)
	s.mu.Lock()
	for _, id := range orphans {
		s.orphans[id] = true
	}
	s.mu.Unlock()
	s.reconcile(ctx)
}

// clearOrphans gives up the adopted orphans (the membership changed: their
// shares are worked out anew) and the candidates.
func (s *Service) clearOrphans() {
	s.mu.Lock()
	clear(s.orphans)
	s.mu.Unlock()
	s.candidates = nil
}

// unheld are those of ids whose lease nobody holds, by one Free call.
func (s *Service) unheld(ctx context.Context, ids []int64) []int64 {
	if len(ids) == 0 {
		return nil
	}
	free, err := s.locker.Free(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("fetch service: looking for orphaned mailboxes failed", "err", err)
		}
		return nil
	}
	var out []int64
	for i, id := range ids {
		if free[i] {
			out = append(out, id)
		}
	}
	return out
}
