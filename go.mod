module github.com/tradecache/tradecache

go 1.26

require (
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/redis/rueidis v1.0.79 // indirect
	github.com/shopspring/decimal v1.6.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
