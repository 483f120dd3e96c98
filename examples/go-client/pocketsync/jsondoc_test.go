package pocketsync

import (
	"errors"
	"testing"
	"time"
)

func TestParseObjectRefusesWhatIsNotOneObject(t *testing.T) {
	for _, text := range []string{``, `[]`, `"x"`, `1`, `null`, `{"a":1`, `{"a":1}x`, `{"a":1}{}`, `{"a":}`, `{1:2}`} {
		if _, err := parseObject(text); !errors.Is(err, errNotObject) {
			t.Errorf("parseObject(%q) = %v, want errNotObject", text, err)
		}
	}
	if _, err := parseObject(" {\"a\":1}\n "); err != nil {
		t.Errorf("whitespace around an object: %v", err)
	}
}

func TestParseObjectKeepsOrderAndTheLastOfRepeatedKeys(t *testing.T) {
	obj, err := parseObject(`{"b":1,"a":{"x":[1,2]},"b":2}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := obj.text(), `{"b":2,"a":{"x":[1,2]}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestStripReserved(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`:     `{"a":1}`,
		`{ "a" : 1 }`: `{ "a" : 1 }`, // untouched when there is nothing to strip
		`{"_id":"x","a":1,"_rev":"1-a","_deleted":false}`:        `{"a":1}`,
		`{"n":{"_id":"kept: only top-level keys are reserved"}}`: `{"n":{"_id":"kept: only top-level keys are reserved"}}`,
		`{"t":"é ☕ \u00e9 <&>"}`:                                 `{"t":"é ☕ \u00e9 <&>"}`,
	}
	for in, want := range cases {
		got, err := stripReserved(in)
		if err != nil || got != want {
			t.Errorf("stripReserved(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if got, _ := stripReserved(`{"_id":"x","t":"<&>"}`); got != `{"t":"<&>"}` {
		t.Errorf("values must be kept byte for byte, got %s", got)
	}
}

func TestJSONEqual(t *testing.T) {
	equal := [][2]string{
		{`1`, `1.0`}, {`1`, `1e0`}, {`100`, `1E2`}, {`-0`, `0`},
		{`{"a":1,"b":[true,null]}`, `{ "b" : [ true , null ] , "a" : 1.00 }`},
		{`"é"`, `"\u00e9"`},
		{`12345678901234567890123`, `12345678901234567890123.0`},
	}
	for _, p := range equal {
		if !jsonEqual([]byte(p[0]), []byte(p[1])) {
			t.Errorf("%s and %s should be equal", p[0], p[1])
		}
	}
	different := [][2]string{
		{`1`, `2`}, {`1`, `"1"`}, {`null`, `false`}, {`[1,2]`, `[2,1]`}, {`{"a":1}`, `{"a":1,"b":1}`},
		{`9007199254740993`, `9007199254740992`}, // equal as doubles, not as numbers
		{`{}`, `[]`},
	}
	for _, p := range different {
		if jsonEqual([]byte(p[0]), []byte(p[1])) {
			t.Errorf("%s and %s should differ", p[0], p[1])
		}
	}
}

func TestJSONEqualIsCheapForHostileNumbers(t *testing.T) {
	start := time.Now()
	if jsonEqual([]byte(`1e999999999`), []byte(`2e999999999`)) {
		t.Error("1e999999999 and 2e999999999 compared equal")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("comparing huge exponents took %v", took)
	}
}
