package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
)

// demoHash is the bcrypt hash of "demo".
const demoHash = "$2a$11$HB93n07FMf88V99PSI/nfu6uVKA2F2EijWfWTOiieHp.HuqOs1mIC"

// crowdRoster has eight pediatric oncologists and a policy that offers an emergent consult to
// all of them at once.
func crowdRoster(t *testing.T, n int) string {
	t.Helper()
	users := []map[string]any{
		{"id": "u-ref", "username": "ref", "name": "Referrer", "role": "referrer", "clinic_id": "hebron", "languages": []string{"ar"}, "password_hash": demoHash},
		{"id": "u-coord", "username": "coord", "name": "Coordinator", "role": "coordinator", "languages": []string{"en"}, "password_hash": demoHash},
	}
	for i := 1; i <= n; i++ {
		users = append(users, map[string]any{"id": fmt.Sprintf("u-s%d", i), "username": fmt.Sprintf("s%d", i), "name": fmt.Sprintf("Specialist %d", i),
			"role": "specialist", "specialties": []string{"pediatric-oncology"}, "languages": []string{"he", "en"}, "max_consults": 50, "password_hash": demoHash})
	}
	layer := func(member string) map[string]any {
		return map[string]any{"layers": []map[string]any{{"name": "all hours", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": []string{member}}}}
	}
	doc := map[string]any{
		"users":       users,
		"clinics":     []map[string]any{{"id": "hebron", "name": "Hebron"}},
		"specialties": []map[string]any{{"slug": "pediatric-oncology", "name": map[string]string{"en": "Pediatric oncology", "ar": "أورام الأطفال", "he": "אונקולוגיה ילדים"}}},
		"schedules":   []map[string]any{{"specialty": "pediatric-oncology", "primary": layer("u-s1"), "secondary": layer("u-s2")}},
		"policies": []map[string]any{{"specialty": "pediatric-oncology", "urgency": "emergent", "repeat": 0, "steps": []map[string]any{
			{"target": "specialty", "wait": "2m", "parallel": true}, {"target": "coordinators", "wait": "5m"}}}},
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "roster.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// TestManySpecialistsAcceptOneEmergentConsult offers emergent consults to eight specialists at
// once, and all eight accept at the same moment: exactly one wins, every time; the others get
// 409 and lose sight of the consult.
func TestManySpecialistsAcceptOneEmergentConsult(t *testing.T) {
	const specialists, runs = 8, 25
	ctx := context.Background()
	_, url := testenv.Redis(t)
	t.Logf("redis for this test: %s", testenv.RedisKind())
	// One referrer sends every run's emergent consult: far more than a person would, so its budgets are raised.
	base, _ := start(t, map[string]string{"REDIS_URL": url, "ROSTER_FILE": crowdRoster(t, specialists),
		"BUDGET_SUBMISSIONS": "1000", "BUDGET_EMERGENT_SUBMISSIONS": "1000"},
		"--addr", "127.0.0.1:0", "--data", t.TempDir())
	login := func(user string) *apiclient.Client {
		c := apiclient.New(base)
		require.NoError(t, c.Login(ctx, user, "demo"), "login %s", user)
		return c
	}
	ref, coord := login("ref"), login("coord")
	clients := make([]*apiclient.Client, specialists)
	for i := range clients {
		clients[i] = login(fmt.Sprintf("s%d", i+1))
	}
	type consultView struct {
		ID         string  `json:"id"`
		Status     string  `json:"status"`
		AssigneeID *string `json:"assignee_id"`
		Offers     []struct {
			SpecialistID string `json:"specialist_id"`
		} `json:"offers"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	for run := range runs {
		var c consultView
		_, err := ref.Do(ctx, http.MethodPost, "/api/v1/consults", map[string]any{"urgency": "emergent", "specialty": "pediatric-oncology",
			"patient": map[string]any{"age_years": 4, "sex": "female"}, "question": fmt.Sprintf("Run %d: who takes it?", run)}, nil, &c)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := coord.Do(ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, &c)
			return err == nil && len(c.Offers) == specialists
		}, 10*time.Second, 10*time.Millisecond, "run %d: the consult was not offered to all %d at once", run, specialists)

		statuses := make([]int, specialists)
		var ready, wg sync.WaitGroup
		ready.Add(specialists)
		gate := make(chan struct{})
		for i, cl := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-gate
				statuses[i], _ = cl.Do(ctx, http.MethodPost, "/api/v1/consults/"+c.ID+"/accept", nil, nil, nil)
			}()
		}
		ready.Wait()
		close(gate)
		wg.Wait()

		winner := -1
		for i, st := range statuses {
			switch st {
			case http.StatusOK:
				assert.Equal(t, -1, winner, "run %d: s%d and s%d both won", run, winner+1, i+1)
				winner = i
			default:
				assert.Equal(t, http.StatusConflict, st, "run %d: s%d got %d, want 200 or 409", run, i+1, st)
			}
		}
		require.NotEqual(t, -1, winner, "run %d: nobody won: %v", run, statuses)
		_, err = coord.Do(ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, &c)
		require.NoError(t, err)
		require.NotNil(t, c.AssigneeID)
		assert.Equal(t, fmt.Sprintf("u-s%d", winner+1), *c.AssigneeID, "run %d", run)
		accepts := 0
		for _, e := range c.Events {
			if e.Type == "consult.accepted" {
				accepts++
			}
		}
		assert.Equal(t, 1, accepts, "run %d: accepted events", run)
		loser := clients[(winner+1)%specialists]
		status, _ := loser.Do(ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
		assert.Equal(t, http.StatusForbidden, status, "run %d: a loser reading the consult", run)
	}
}
