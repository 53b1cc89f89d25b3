package main

import "strings"

// idOverride gives countries the short IDs news archives use (Reuters
// style: usa, uk, uae, west-germany) where a slug of the name would be
// long or ambiguous.
var idOverride = map[string]string{
	"US": "usa", "GB": "uk", "AE": "uae", "KR": "south-korea", "KP": "north-korea", "CI": "ivory-coast",
	"CD": "dr-congo", "CG": "congo", "TT": "trinidad-tobago", "VI": "us-virgin-islands", "VG": "british-virgin-islands",
	"HK": "hong-kong", "MO": "macau", "TW": "taiwan", "MM": "myanmar", "RU": "russia", "IR": "iran", "SY": "syria",
	"LA": "laos", "VN": "vietnam", "BO": "bolivia", "VE": "venezuela", "TZ": "tanzania", "MD": "moldova",
	"CZ": "czech-republic", "MK": "north-macedonia", "PS": "palestine", "VA": "vatican", "FM": "micronesia",
	"BN": "brunei", "CV": "cape-verde", "SZ": "eswatini", "TR": "turkey", "KN": "st-kitts-nevis",
	"VC": "st-vincent", "LC": "st-lucia", "BA": "bosnia-herzegovina", "AG": "antigua-barbuda", "CN": "china",
	"GM": "gambia", "NL": "netherlands", "FK": "falkland-islands", "BQ": "caribbean-netherlands", "CC": "cocos-islands",
	"MF": "st-martin", "SX": "sint-maarten", "ST": "sao-tome-principe", "PN": "pitcairn", "BL": "st-barthelemy",
	"PM": "st-pierre-miquelon", "SH": "st-helena", "HM": "heard-mcdonald-islands", "GS": "south-georgia",
	"UM": "us-outlying-islands", "WF": "wallis-futuna", "TC": "turks-caicos", "SJ": "svalbard-jan-mayen",
	"AX": "aland", "RE": "reunion", "CW": "curacao",
}

var labelOverride = map[string]string{
	"US": "United States", "GB": "United Kingdom", "CZ": "Czech Republic", "NL": "Netherlands", "TR": "Turkey",
	"CD": "Democratic Republic of the Congo", "CG": "Republic of the Congo", "CI": "Ivory Coast", "GM": "Gambia",
	"MK": "North Macedonia", "CN": "China", "RU": "Russia", "KR": "South Korea", "KP": "North Korea",
}

// aliasOwner settles names two countries share in English.
var aliasOwner = map[string]string{"congo": "CG", "korea": "KR", "guinea": "GN", "dominica": "DM", "samoa": "WS"}

// extraAliases are common English names and abbreviations missing from the
// country-name data; '=' marks exact case.
var extraAliases = map[string]string{
	"US": "America|United States|U.S.|U.S.A.|=US|=USA",
	"GB": "Britain|Great Britain|U.K.|=UK|United Kingdom",
	"AE": "United Arab Emirates|U.A.E.|=UAE|Emirates",
	"CD": "Zaire|DR Congo|DRC|Congo-Kinshasa",
	"CG": "Congo-Brazzaville|Congo Republic",
	"MM": "Burma",
	"KH": "Kampuchea",
	"LK": "Ceylon",
	"NL": "Holland",
	"CZ": "Czechia",
	"SZ": "Swaziland",
	"MK": "Macedonia",
	"CV": "Cabo Verde",
	"TL": "East Timor",
	"VA": "Vatican|Holy See|Vatican City",
	"KR": "South Korea|Republic of Korea|Korea",
	"KP": "North Korea|DPRK",
	"TW": "Taiwan|Republic of China",
	"CN": "China|People's Republic of China|PRC",
	"IR": "Iran|Persia",
	"TR": "Turkey|Türkiye",
	"YE": "North Yemen|Yemen Arab Republic|South Yemen",
	"TT": "Trinidad|Trinidad and Tobago",
	"BA": "Bosnia|Bosnia-Herzegovina",
	"PS": "Palestinian Territories|Palestinian territories|West Bank|Gaza",
	"VI": "U.S. Virgin Islands",
	"CI": "Ivory Coast|Côte d'Ivoire",
	"RU": "Russian Federation",
}

// demonyms are English adjectives and nouns for a country's people ('|'
// separated); a plural is added where English makes one with -s.
var demonyms = map[string]string{
	"US": "American", "GB": "British|Briton", "CA": "Canadian", "JP": "Japanese", "DE": "German", "FR": "French",
	"BR": "Brazilian", "AU": "Australian", "BE": "Belgian", "CN": "Chinese", "CH": "Swiss", "NL": "Dutch",
	"IT": "Italian", "IR": "Iranian", "PH": "Philippine|Filipino", "SE": "Swedish|Swede", "NZ": "New Zealander",
	"TW": "Taiwanese", "ZA": "South African", "ES": "Spanish|Spaniard", "KR": "South Korean", "AR": "Argentine|Argentinian",
	"ID": "Indonesian", "EC": "Ecuadorean|Ecuadorian", "IQ": "Iraqi", "IN": "Indian", "SA": "Saudi|Saudi Arabian",
	"MX": "Mexican", "TR": "Turkish", "VE": "Venezuelan", "SG": "Singaporean", "TH": "Thai", "MY": "Malaysian",
	"DK": "Danish|Dane", "CO": "Colombian", "EG": "Egyptian", "GR": "Greek", "FI": "Finnish|Finn", "PE": "Peruvian",
	"KW": "Kuwaiti", "NG": "Nigerian", "PT": "Portuguese", "AE": "Emirati", "NI": "Nicaraguan", "BH": "Bahraini",
	"DZ": "Algerian", "BO": "Bolivian", "AT": "Austrian", "BD": "Bangladeshi", "PK": "Pakistani", "IL": "Israeli",
	"LK": "Sri Lankan", "NO": "Norwegian", "ZM": "Zambian", "CR": "Costa Rican", "IE": "Irish", "HU": "Hungarian",
	"LY": "Libyan", "MA": "Moroccan", "PL": "Polish|Pole", "CL": "Chilean", "CI": "Ivorian", "JO": "Jordanian",
	"HN": "Honduran", "QA": "Qatari", "CU": "Cuban", "ZW": "Zimbabwean", "PA": "Panamanian", "LB": "Lebanese",
	"KE": "Kenyan", "JM": "Jamaican", "GH": "Ghanaian", "SV": "Salvadoran|Salvadorean", "SY": "Syrian",
	"TZ": "Tanzanian", "GT": "Guatemalan", "TN": "Tunisian", "TD": "Chadian", "SD": "Sudanese", "CY": "Cypriot",
	"YE": "Yemeni", "CD": "Zairean|Congolese", "DO": "Dominican", "UG": "Ugandan", "PG": "Papua New Guinean",
	"MG": "Malagasy", "OM": "Omani", "CZ": "Czech", "SR": "Surinamese", "GA": "Gabonese", "HT": "Haitian",
	"KP": "North Korean", "SN": "Senegalese", "RO": "Romanian", "AF": "Afghan", "SL": "Sierra Leonean",
	"ET": "Ethiopian", "BM": "Bermudian", "MZ": "Mozambican", "UY": "Uruguayan", "NP": "Nepalese|Nepali",
	"LR": "Liberian", "SO": "Somali", "PY": "Paraguayan", "AO": "Angolan", "BG": "Bulgarian", "KH": "Cambodian",
	"MM": "Burmese", "IS": "Icelandic|Icelander", "GY": "Guyanese", "MW": "Malawian", "VN": "Vietnamese",
	"BN": "Bruneian", "CM": "Cameroonian", "MU": "Mauritian", "RU": "Russian", "UA": "Ukrainian", "BY": "Belarusian",
	"KZ": "Kazakh|Kazakhstani", "GE": "Georgian", "AM": "Armenian", "AZ": "Azerbaijani", "RS": "Serbian|Serb",
	"HR": "Croatian|Croat", "SI": "Slovenian", "SK": "Slovak", "LT": "Lithuanian", "LV": "Latvian", "EE": "Estonian",
	"AL": "Albanian", "MK": "Macedonian", "BA": "Bosnian", "MD": "Moldovan", "MT": "Maltese", "MN": "Mongolian",
	"LA": "Laotian", "UZ": "Uzbek", "TM": "Turkmen", "TJ": "Tajik", "KG": "Kyrgyz", "RW": "Rwandan",
	"BI": "Burundian", "ML": "Malian", "NE": "Nigerien", "MR": "Mauritanian", "NA": "Namibian", "BW": "Botswanan",
	"ER": "Eritrean", "DJ": "Djiboutian", "GN": "Guinean", "BJ": "Beninese", "TG": "Togolese", "BF": "Burkinabe",
	"GM": "Gambian", "FJ": "Fijian", "TT": "Trinidadian", "BB": "Barbadian", "BS": "Bahamian", "BZ": "Belizean",
	"PR": "Puerto Rican", "PS": "Palestinian", "LU": "Luxembourgish|Luxembourger", "KY": "Caymanian",
	"CG": "Congolese", "LI": "Liechtensteiner", "AW": "Aruban", "VU": "Vanuatuan", "TL": "Timorese", "BT": "Bhutanese",
	"MV": "Maldivian", "SC": "Seychellois", "SS": "South Sudanese", "CF": "Central African", "GQ": "Equatoguinean",
	"LS": "Basotho", "SZ": "Swazi", "ZZ": "",
}

func init() { delete(demonyms, "ZZ") }

// handEntities are places the country data lacks: former countries that
// archives still label, US states and Canadian provinces (with the
// abbreviations of news datelines).
func handEntities(byCode map[string]*entity) []*entity {
	var out []*entity
	add := func(id, label, in, code, aliases string) {
		e := &entity{id: id, kind: "place", label: label, in: in, code: code}
		for _, a := range strings.Split(aliases, "|") {
			al := alias{text: a, lang: "en", english: true}
			if strings.HasPrefix(a, "=") {
				al.text, al.flag = a[1:], "="
			}
			e.aliases = append(e.aliases, al)
		}
		out = append(out, e)
	}
	add("ussr", "Soviet Union", "", "SU", "Soviet Union|USSR|U.S.S.R.|Soviet|Soviets|Soviet Russia")
	add("west-germany", "West Germany", "", "DE", "West Germany|West German|West Germans|Federal Republic of Germany|FRG")
	add("east-germany", "East Germany", "", "DD", "East Germany|East German|East Germans|German Democratic Republic|GDR")
	add("yugoslavia", "Yugoslavia", "", "YU", "Yugoslavia|Yugoslav|Yugoslavs|Yugoslavian")
	add("czechoslovakia", "Czechoslovakia", "", "CS", "Czechoslovakia|Czechoslovak|Czechoslovakian")
	states := "Alabama:Ala.|Alaska|Arizona:Ariz.|Arkansas:Ark.|California:Calif.|Colorado:Colo.|Connecticut:Conn.|" +
		"Delaware:Del.|Florida:Fla.|Georgia:Ga.|Hawaii|Idaho|Illinois:Ill.|Indiana:Ind.|Iowa|Kansas:Kan.|" +
		"Kentucky:Ky.|Louisiana:La.|Maine|Maryland:Md.|Massachusetts:Mass.|Michigan:Mich.|Minnesota:Minn.|" +
		"Mississippi:Miss.|Missouri:Mo.|Montana:Mont.|Nebraska:Neb.|Nevada:Nev.|New Hampshire:N.H.|" +
		"New Jersey:N.J.|New Mexico:N.M.|New York State:N.Y.|North Carolina:N.C.|North Dakota:N.D.|Ohio|" +
		"Oklahoma:Okla.|Oregon:Ore.|Pennsylvania:Pa.|Rhode Island:R.I.|South Carolina:S.C.|South Dakota:S.D.|" +
		"Tennessee:Tenn.|Texas:Tex.|Utah|Vermont:Vt.|Virginia:Va.|Washington State:Wash.|West Virginia:W.Va.|" +
		"Wisconsin:Wis.|Wyoming:Wyo."
	for _, s := range strings.Split(states, "|") {
		name, abbr, _ := strings.Cut(s, ":")
		aliases := name
		if abbr != "" {
			// Abbreviations are exact-case and need their dot ("Pa." not "pa").
			aliases += "|=" + abbr
		}
		add(slug(name), name, "usa", "US", aliases)
	}
	provinces := "Ontario:Ont.|Quebec:Que.|British Columbia:B.C.|Alberta:Alta.|Manitoba:Man.|Saskatchewan:Sask.|" +
		"Nova Scotia:N.S.|New Brunswick:N.B.|Newfoundland:Nfld.|Prince Edward Island:P.E.I."
	for _, s := range strings.Split(provinces, "|") {
		name, abbr, _ := strings.Cut(s, ":")
		add(slug(name), name, "canada", "CA", name+"|="+abbr)
	}
	return out
}

// cityAliases are common short names of cities missing from GeoNames'
// primary names.
var cityAliases = map[string]string{
	"new-york-city": "New York|NYC", "washington-dc": "Washington D.C.", "saint-petersburg": "St. Petersburg|St Petersburg",
	"mexico-city": "Mexico City", "kyiv": "Kiev", "ho-chi-minh-city": "Saigon", "mumbai": "Bombay", "chennai": "Madras",
	"kolkata": "Calcutta", "bengaluru": "Bangalore", "beijing": "Peking",
}
