package postgres

// The claim statements, for the plan test.
var (
	ClaimFirstSQL = claimFirstSQL
	ClaimRetrySQL = claimRetrySQL
)
