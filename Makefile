# The two commands a newcomer needs: `make run` and `make test`. The rest is optional.

# Build with the toolchain go.mod names (a patch release with security fixes), fetched through
# the module proxy when the installed Go is older.
export GOTOOLCHAIN ?= auto
.PHONY: run test unit integration ui-smoke validate-deploy bench coldstart build fmt vet lint fuzz

run: ## the whole broker in one process with demo data on http://127.0.0.1:8080
	go run ./services/consultd --demo --addr 127.0.0.1:8080 --data ./data

test: ## every test; real servers where installed, the embedded ones otherwise (it says which)
	./scripts/test.sh

unit: ## Go tests, without the multi-process suite
	go test -race -count=1 ./...

integration: ## the acceptance suite against intake, routing and notify as separate processes
	go test -tags integration -count=1 -v ./scripts/integration/

ui-smoke: ## the browser flow in headless Chromium against a fresh consultd
	./scripts/ui-smoke.sh

validate-deploy: ## docker-compose.yml, Kubernetes manifests and NATS configs
	go build -o bin/nats-server github.com/nats-io/nats-server/v2
	NATS_SERVER=$(CURDIR)/bin/nats-server ./scripts/validate-deploy.sh

bench: ## submit→offer latency against a running broker (BUDGET_SUBMISSIONS=1000000 BUDGET_EMERGENT_SUBMISSIONS=1000000 make run in another terminal)
	go run ./scripts/bench -base http://127.0.0.1:8080 -n 1000 -rate 200

coldstart: ## consultd's cold start and idle memory
	go run ./scripts/bench -mode coldstart -runs 5

build:
	go build -o bin/ ./services/...

fmt:
	gofmt -l -w services pkg scripts internal

vet:
	go vet ./... && go vet -tags integration ./scripts/...

lint: ## gofmt -l, staticcheck and govulncheck (offline database built from golang.org/x/vulndb in go.mod)
	./scripts/lint.sh

fuzz: ## every fuzz target for FUZZTIME each (default 60s); make test runs them for 3s
	FUZZTIME=$${FUZZTIME:-60s} ./scripts/fuzz.sh
