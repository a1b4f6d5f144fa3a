package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password hashes are argon2id in the PHC string format.
const (
	argonThreads = 1
	argonKeyLen  = 32
)

// HashCost is the argon2id cost of new password hashes. A hash names its
// cost, so CheckPassword checks any hash at the cost it was made with.
type HashCost struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32
}

// DefaultHashCost is the OWASP minimum for argon2id: the cost of every
// hash the helpdesk makes (tests choose a cheaper one through the store).
var DefaultHashCost = HashCost{Time: 2, MemoryKiB: 19 * 1024}

// DummyHash is checked against when the user does not exist, so that an
// unknown address costs as much time as a wrong password.
const DummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// HashPassword returns an argon2id hash of password at DefaultHashCost.
func HashPassword(password string) (string, error) { return DefaultHashCost.Hash(password) }

// Hash returns an argon2id hash of password at the cost c, with a random
// salt.
func (c HashCost) Hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, c.Time, c.MemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, c.MemoryKiB, c.Time, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash (in constant time).
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory uint32
	var iterations uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || iterations == 0 || iterations > 10 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
