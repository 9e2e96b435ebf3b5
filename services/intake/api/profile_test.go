package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/problem"
)

type profileAnswer struct {
	Profile profile.Profile `json:"profile"`
}

func TestProfile(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := profile.NewCache(s.in.Profiles, testenv.Logger(t))
	watching := make(chan error, 1)
	go func() { watching <- cache.Watch(ctx) }()
	defer func() { cancel(); <-watching }()

	ref, onc := s.login("referrer1"), s.login("onc1")
	get := func(c *apiclient.Client) profile.Profile {
		t.Helper()
		var out profileAnswer
		_, err := c.Do(ctx, http.MethodGet, "/api/v1/me/profile", nil, nil, &out)
		require.NoError(t, err)
		return out.Profile
	}
	put := func(c *apiclient.Client, body any) (int, profile.Profile, *apiError) {
		t.Helper()
		var out profileAnswer
		status, apiErr := send(t, c, http.MethodPut, "/api/v1/me/profile", body, &out)
		return status, out.Profile, apiErr
	}

	assert.Equal(t, profile.Profile{Locale: "", Availability: "available"}, get(ref), "a profile never set")

	status, p, apiErr := put(ref, map[string]any{"locale": "ar"})
	require.Equal(t, http.StatusOK, status, "%v", apiErr)
	assert.Equal(t, profile.Profile{Locale: "ar", Availability: "available"}, p)
	assert.Equal(t, p, get(ref))
	audit := awaitAudit(t, s.b, "profile.update")
	assert.Equal(t, "u-referrer1", audit["actor_id"])
	assert.Equal(t, map[string]any{"locale": "ar"}, audit["detail"])

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			client   *apiclient.Client
			body     any
			status   int
			fields   map[string]string
			problems map[string]problem.Problem
		}{
			{"availability from a referrer", ref, map[string]any{"availability": "busy"}, http.StatusForbidden, nil, nil},
			{"availability from a referrer, with a locale", ref, map[string]any{"locale": "en", "availability": "available"}, http.StatusForbidden, nil, nil},
			{"unknown locale", ref, map[string]any{"locale": "fr"}, http.StatusBadRequest,
				map[string]string{"locale": "must be one of ar, he, en, or empty for the browser's language"},
				map[string]problem.Problem{"locale": {Code: "not_allowed"}}},
			{"unknown availability", onc, map[string]any{"availability": "asleep"}, http.StatusBadRequest,
				map[string]string{"availability": "must be one of available, busy, away"},
				map[string]problem.Problem{"availability": {Code: "not_allowed", Allowed: []string{"available", "busy", "away"}}}},
			{"empty availability", onc, map[string]any{"availability": ""}, http.StatusBadRequest,
				map[string]string{"availability": "must be one of available, busy, away"},
				map[string]problem.Problem{"availability": {Code: "not_allowed", Allowed: []string{"available", "busy", "away"}}}},
			{"wrong type", onc, map[string]any{"locale": 3}, http.StatusBadRequest, map[string]string{"locale": "must be a string"},
				map[string]problem.Problem{"locale": {Code: "malformed"}}},
			{"unknown field", onc, map[string]any{"theme": "dark"}, http.StatusBadRequest, map[string]string{"theme": "unknown field"},
				map[string]problem.Problem{"theme": {Code: "unknown_field"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, _, apiErr := put(tc.client, tc.body)
				require.Equal(t, tc.status, status, "got %d %v, want %d", status, apiErr, tc.status)
				assert.Equal(t, tc.fields, apiErr.Body.Error.Fields)
				assert.Equal(t, tc.problems, apiErr.Body.Error.Problems, "got problems %v, want %v", apiErr.Body.Error.Problems, tc.problems)
			})
		}
		assert.Equal(t, profile.Profile{Locale: "ar", Availability: "available"}, get(ref), "a refused change changed the profile")
		assert.Equal(t, profile.Default, get(onc), "a refused change changed the profile")
	})

	t.Run("a specialist's availability reaches routing's cache", func(t *testing.T) {
		status, p, apiErr := put(onc, map[string]any{"availability": "away"})
		require.Equal(t, http.StatusOK, status, "%v", apiErr)
		assert.Equal(t, profile.Profile{Availability: "away"}, p)
		require.Eventually(t, func() bool { return cache.Availability("u-onc1") == profile.Away }, 10*time.Second, 5*time.Millisecond,
			"got %q, want away", cache.Availability("u-onc1"))
		assert.Equal(t, profile.Available, cache.Availability("u-onc2"))

		status, p, _ = put(onc, map[string]any{"locale": "he"})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, profile.Profile{Locale: "he", Availability: "away"}, p, "a change of one field kept the other")
		status, p, _ = put(onc, map[string]any{"availability": "available", "locale": ""})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, profile.Default, p)
		require.Eventually(t, func() bool { return cache.Availability("u-onc1") == profile.Available }, 10*time.Second, 5*time.Millisecond)
	})

	status, _, _ = put(apiclient.New(s.url), map[string]any{"locale": "ar"})
	assert.Equal(t, http.StatusUnauthorized, status)
}
