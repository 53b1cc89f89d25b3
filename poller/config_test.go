package poller

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want []string // keys of the expected *ConfigError values, in order; nil means valid
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "zero means default", edit: func(c *Config) { *c = Config{} }},
		{name: "negative per_host_gap means none", edit: func(c *Config) { c.PerHostGap = -time.Second }},
		{name: "negative timeout", edit: func(c *Config) { c.TotalTimeout = -time.Second }, want: []string{"timeout"}},
		{name: "negative intervals", edit: func(c *Config) {
			c.DefaultInterval, c.MinInterval, c.MaxInterval = -time.Minute, -time.Minute, -time.Hour
		}, want: []string{"default_interval", "min_interval", "max_interval", "min_interval"}},
		{name: "negative lease_ttl is reported once", edit: func(c *Config) { c.LeaseTTL = -time.Minute }, want: []string{"lease_ttl"}},
		{name: "lease_ttl not above timeout", edit: func(c *Config) { c.LeaseTTL = time.Minute }, want: []string{"lease_ttl"}},
		{name: "counts", edit: func(c *Config) { c.Concurrency, c.PerHostConcurrency, c.MaxRedirects = -3, -1, 31 },
			want: []string{"max_redirects", "concurrency", "per_host_concurrency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var ce *ConfigError
					if !errors.As(e, &ce) {
						t.Fatalf("Validate() error %v (%T) is not a *ConfigError", e, e)
					}
					got = append(got, ce.Key)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Validate() = %v; keys %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url, want string // want: substring of the error; "" means valid
	}{
		{"https://example.org/feed.xml", ""},
		{"http://127.0.0.1:8080/f", ""},
		{"http://exa mple.org/feed", `invalid character " " in host name`},
		{"http://", "no host"},
		{"http://:80/feed", "no host"},
		{"ftp://example.org/f", "scheme must be http or https"},
		{"example.org/feed", "scheme must be http or https"},
		{"", "scheme must be http or https"},
		// A password is never repeated (basic auth in the URL).
		{"ftp://u:s3cret@example.org/f", `"ftp://u:xxxxx@example.org/f": scheme must be http or https`},
		{"http://u:s3cret@exa mple.org/f", `"http://xxxxx@exa mple.org/f"`},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url)
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckURL(%q) = %v: repeats the password", tt.url, err)
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckURL(%q) = %v, want an error containing %q", tt.url, err, tt.want)
		case err != nil && tt.url != "" && strings.Count(err.Error(), tt.url) > 1:
			t.Errorf("CheckURL(%q) = %v: names the URL more than once", tt.url, err)
		}
	}
}
