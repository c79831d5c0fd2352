package console

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/facevault/facevault"
)

// MaxUserNameLen bounds a console user's name, in characters.
const MaxUserNameLen = 64

// CheckUserName reports whether name can name a console user: 1 to
// MaxUserNameLen printable characters, no spaces at either end.
func CheckUserName(name string) error {
	switch {
	case name == "":
		return errors.New("the name must not be empty")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxUserNameLen:
		return fmt.Errorf("the name must be at most %d characters of UTF-8", MaxUserNameLen)
	}
	for i, r := range name {
		if !unicode.IsPrint(r) || (unicode.IsSpace(r) && (i == 0 || i+utf8.RuneLen(r) == len(name))) {
			return errors.New("the name must be printable characters, with no space at either end")
		}
	}
	return nil
}

// NewUser returns a new console user, created at now, with password
// hashed. It checks the name, role and password.
func NewUser(name string, role facevault.ConsoleRole, password string, now time.Time) (*facevault.ConsoleUser, error) {
	if err := CheckUserName(name); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fmt.Errorf("the role must be %s or %s, not %q", facevault.RoleReviewer, facevault.RoleAdmin, role)
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	return &facevault.ConsoleUser{ID: facevault.NewID(now), Name: name, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}, nil
}
