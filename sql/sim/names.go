package sim

import "strings"

// namedTable is a real AX 2012 table with a typical size (0: generated).
type namedTable struct {
	name string
	rows int64
	// hot is the share of application writes that land in this table
	// (relative weight; 0: never written during the cutover window).
	hot float64
	// inserts is the share of those writes that add rows (the rest update).
	inserts float64
	noPK    bool
}

// axTables returns well-known AX 2012 tables, biggest first, with sizes
// typical of a mid-size customer. The write weights describe where a
// running AX 2012 writes during the day.
func axTables() []namedTable {
	return []namedTable{
		{name: "GENERALJOURNALACCOUNTENTRY", rows: 264_000_000, hot: 14, inserts: 1},
		{name: "INVENTTRANS", rows: 182_500_000, hot: 16, inserts: 0.7},
		{name: "DIMENSIONATTRIBUTEVALUESETITEM", rows: 121_000_000, hot: 3, inserts: 1},
		{name: "INVENTSETTLEMENT", rows: 108_000_000, hot: 4, inserts: 1},
		{name: "SUBLEDGERJOURNALACCOUNTENTRY", rows: 96_000_000, hot: 6, inserts: 1},
		{name: "INVENTTRANSORIGIN", rows: 74_000_000, hot: 5, inserts: 1},
		{name: "GENERALJOURNALENTRY", rows: 41_000_000, hot: 3, inserts: 1},
		{name: "SUBLEDGERVOUCHERGENERALJOURNALENTRY", rows: 39_000_000, hot: 2, inserts: 1},
		{name: "TAXTRANS", rows: 36_500_000, hot: 2, inserts: 1},
		{name: "SALESLINE", rows: 28_400_000, hot: 9, inserts: 0.45},
		{name: "CUSTINVOICETRANS", rows: 27_900_000},
		{name: "DIMENSIONATTRIBUTEVALUECOMBINATION", rows: 24_600_000, hot: 1, inserts: 1},
		{name: "INVENTDIM", rows: 21_300_000, hot: 1.5, inserts: 1},
		{name: "LEDGERJOURNALTRANS", rows: 19_800_000, hot: 4, inserts: 0.8},
		{name: "SOURCEDOCUMENTLINE", rows: 18_700_000, hot: 2, inserts: 0.8},
		{name: "ACCOUNTINGDISTRIBUTION", rows: 17_200_000, hot: 2, inserts: 1},
		{name: "DIMENSIONATTRIBUTEVALUESET", rows: 15_100_000, hot: 0.6, inserts: 1},
		{name: "PURCHLINE", rows: 12_600_000, hot: 3, inserts: 0.5},
		{name: "CUSTTRANS", rows: 11_900_000, hot: 2, inserts: 0.6},
		{name: "CUSTSETTLEMENT", rows: 9_800_000},
		{name: "MARKUPTRANS", rows: 9_100_000},
		{name: "VENDINVOICETRANS", rows: 8_600_000},
		{name: "CUSTPACKINGSLIPTRANS", rows: 8_200_000},
		{name: "INVENTTRANSPOSTING", rows: 7_900_000, hot: 2, inserts: 1},
		{name: "WMSORDERTRANS", rows: 7_400_000, hot: 1.5, inserts: 0.6},
		{name: "SALESPARMLINE", rows: 6_900_000},
		{name: "SOURCEDOCUMENTHEADER", rows: 6_500_000, hot: 1, inserts: 1},
		{name: "ACCOUNTINGEVENT", rows: 6_100_000, hot: 1, inserts: 1},
		{name: "PROJTRANSPOSTING", rows: 5_700_000},
		{name: "VENDTRANS", rows: 5_400_000, hot: 1.2, inserts: 0.6},
		{name: "SYSDATABASELOG", rows: 5_200_000, hot: 2, inserts: 1},
		{name: "DOCUREF", rows: 4_800_000},
		{name: "INVENTSUM", rows: 4_600_000, hot: 8, inserts: 0.02},
		{name: "PRODROUTETRANS", rows: 4_300_000},
		{name: "BATCHHISTORY", rows: 4_100_000, hot: 1, inserts: 1},
		{name: "LEDGERENTRY", rows: 3_900_000},
		{name: "VENDSETTLEMENT", rows: 3_600_000},
		{name: "RETAILTRANSACTIONSALESTRANS", rows: 3_400_000},
		{name: "CUSTINVOICEJOUR", rows: 3_200_000},
		{name: "SALESTABLE", rows: 2_900_000, hot: 2, inserts: 0.3},
		{name: "PROJEMPLTRANS", rows: 2_700_000},
		{name: "PRODBOM", rows: 2_600_000},
		{name: "REQTRANS", rows: 2_400_000, hot: 1, inserts: 0.5},
		{name: "CUSTPACKINGSLIPJOUR", rows: 2_200_000},
		{name: "BANKACCOUNTTRANS", rows: 2_000_000},
		{name: "LOGISTICSPOSTALADDRESS", rows: 1_900_000},
		{name: "DIRPARTYTABLE", rows: 1_800_000},
		{name: "LOGISTICSLOCATION", rows: 1_700_000},
		{name: "PURCHTABLE", rows: 1_500_000, hot: 0.8, inserts: 0.3},
		{name: "VENDINVOICEJOUR", rows: 1_400_000},
		{name: "INVENTJOURNALTRANS", rows: 1_300_000, hot: 0.5, inserts: 0.8},
		{name: "PRODTABLE", rows: 1_100_000},
		{name: "ASSETTRANS", rows: 950_000},
		{name: "CUSTTABLE", rows: 890_000, hot: 0.3, inserts: 0.05},
		{name: "ECORESPRODUCT", rows: 760_000},
		{name: "INVENTTABLE", rows: 740_000},
		{name: "ECORESPRODUCTTRANSLATION", rows: 720_000},
		{name: "INVENTTABLEMODULE", rows: 2_200_000},
		{name: "PRICEDISCTABLE", rows: 640_000},
		{name: "DIRPERSON", rows: 520_000},
		{name: "INVENTBATCH", rows: 480_000},
		{name: "BATCHJOBHISTORY", rows: 460_000, hot: 0.3, inserts: 1},
		{name: "LEDGERJOURNALTABLE", rows: 410_000, hot: 0.4, inserts: 0.8},
		{name: "INVENTTRANSFERLINE", rows: 390_000},
		{name: "WORKFLOWTRACKINGTABLE", rows: 350_000},
		{name: "SYSOUTGOINGEMAILTABLE", rows: 310_000},
		{name: "INVENTSERIAL", rows: 280_000},
		{name: "PROJTABLE", rows: 96_000},
		{name: "VENDTABLE", rows: 84_000, hot: 0.05, inserts: 0.05},
		{name: "AIFMESSAGELOG", rows: 2_600_000},
		{name: "AIFDOCUMENTLOG", rows: 1_200_000},
		{name: "SALESQUOTATIONLINE", rows: 270_000},
		{name: "SALESQUOTATIONTABLE", rows: 60_000},
		{name: "SALESPARMTABLE", rows: 1_900_000},
		{name: "PURCHPARMLINE", rows: 1_100_000},
		{name: "PURCHPARMTABLE", rows: 420_000},
		{name: "VENDPACKINGSLIPJOUR", rows: 380_000},
		{name: "VENDPACKINGSLIPTRANS", rows: 1_250_000},
		{name: "CUSTCONFIRMJOUR", rows: 900_000},
		{name: "CUSTCONFIRMTRANS", rows: 4_400_000},
		{name: "CUSTTRANSOPEN", rows: 310_000},
		{name: "VENDTRANSOPEN", rows: 120_000},
		{name: "SPECTRANS", rows: 1_500},
		{name: "INVENTSUMLOGTTS", rows: 2_100, hot: 0.4, inserts: 0.5, noPK: true},
		{name: "SYSLASTVALUE", rows: 640_000},
		{name: "SQLDICTIONARY", rows: 118_000},
		{name: "SYSTEMSEQUENCES", rows: 5_600},
		{name: "NUMBERSEQUENCETABLE", rows: 2_900},
		{name: "NUMBERSEQUENCELIST", rows: 44_000},
		{name: "USERINFO", rows: 1_420},
		{name: "SYSUSERINFO", rows: 1_420},
		{name: "SECURITYUSERROLE", rows: 9_800},
		{name: "SYSSERVERCONFIG", rows: 3},
		{name: "BATCHSERVERCONFIG", rows: 3},
		{name: "BATCHSERVERGROUP", rows: 6},
		{name: "BATCHGROUP", rows: 12},
		{name: "COMPANYINFO", rows: 14},
		{name: "DATAAREA", rows: 15},
		{name: "CURRENCY", rows: 180},
		{name: "EXCHANGERATE", rows: 48_000},
		{name: "LEDGER", rows: 14},
		{name: "MAINACCOUNT", rows: 6_200},
		{name: "FISCALCALENDARPERIOD", rows: 1_100},
		{name: "TAXTABLE", rows: 420},
		{name: "TAXDATA", rows: 960},
		{name: "TAXGROUPDATA", rows: 3_300},
		{name: "PAYMTERM", rows: 90},
		{name: "UNITOFMEASURE", rows: 160},
		{name: "UNITOFMEASURECONVERSION", rows: 7_400},
		{name: "INVENTLOCATION", rows: 210},
		{name: "INVENTSITE", rows: 24},
		{name: "WMSLOCATION", rows: 88_000},
		{name: "WMSPALLET", rows: 150_000},
		{name: "WMSSHIPMENT", rows: 240_000},
		{name: "WMSPICKINGROUTE", rows: 610_000},
		{name: "WMSJOURNALTRANS", rows: 330_000},
		{name: "HCMWORKER", rows: 3_800},
		{name: "HCMEMPLOYMENT", rows: 4_100},
		{name: "HCMPOSITION", rows: 2_300},
		{name: "HRMABSENCETRANS", rows: 190_000},
		{name: "HRMCOURSETABLE", rows: 340},
		{name: "ASSETTABLE", rows: 21_000},
		{name: "ASSETBOOK", rows: 42_000},
		{name: "BUDGETTRANSACTIONLINE", rows: 380_000},
		{name: "BUDGETTRANSACTIONHEADER", rows: 12_000},
		{name: "BOM", rows: 900_000},
		{name: "BOMTABLE", rows: 110_000},
		{name: "BOMVERSION", rows: 115_000},
		{name: "ROUTE", rows: 330_000},
		{name: "ROUTETABLE", rows: 52_000},
		{name: "REQPO", rows: 260_000},
		{name: "RETAILTRANSACTIONTABLE", rows: 1_600_000},
		{name: "RETAILTRANSACTIONPAYMENTTRANS", rows: 1_700_000},
		{name: "RETAILSTATEMENTTABLE", rows: 9_000},
		{name: "SMMACTIVITIES", rows: 410_000},
		{name: "SMMBUSRELTABLE", rows: 64_000},
		{name: "WRKCTRTABLE", rows: 310},
		{name: "JMGSTAMPJOURNALTRANS", rows: 2_900_000},
		{name: "TRVEXPTRANS", rows: 510_000},
		{name: "AIFGATEWAYQUEUE", rows: 0},
		{name: "AIFCHANNEL", rows: 18},
		{name: "AIFADAPTER", rows: 7},
		{name: "EVENTINBOX", rows: 230_000},
		{name: "WORKFLOWWORKITEMTABLE", rows: 41_000},
		{name: "SYSOUTGOINGEMAILDATA", rows: 120_000},
		{name: "DOCUVALUE", rows: 1_900_000},
		{name: "ECORESCATEGORY", rows: 4_800},
		{name: "ECORESPRODUCTCATEGORY", rows: 760_000},
		{name: "ECORESDISTINCTPRODUCTVARIANT", rows: 1_300_000},
		{name: "AGREEMENTHEADER", rows: 8_200},
		{name: "AGREEMENTLINE", rows: 77_000},
		{name: "PURCHREQTABLE", rows: 46_000},
		{name: "PURCHREQLINE", rows: 190_000},
		{name: "INVENTTRANSFERTABLE", rows: 88_000},
		{name: "INVENTQUARANTINEORDER", rows: 3_100},
		{name: "INVENTSUMDELTA", rows: 0, hot: 0.6, inserts: 0},
		{name: "INVENTCLOSING", rows: 180},
		{name: "INVENTITEMPRICE", rows: 3_900_000},
		{name: "INVENTJOURNALTABLE", rows: 160_000},
		{name: "INVENTMODELGROUPITEM", rows: 740_000},
		{name: "INVENTITEMGROUPITEM", rows: 740_000},
		{name: "LEDGERPARAMETERS", rows: 14},
		{name: "CUSTPARAMETERS", rows: 14},
		{name: "VENDPARAMETERS", rows: 14},
		{name: "INVENTPARAMETERS", rows: 14},
		{name: "SALESPARMSUBTABLE", rows: 1_900_000},
		{name: "PROJCOSTTRANS", rows: 1_300_000},
		{name: "PROJITEMTRANS", rows: 620_000},
		{name: "PROJREVENUETRANS", rows: 95_000},
		{name: "PROJINVOICEJOUR", rows: 130_000},
		{name: "PROJJOURNALTRANS", rows: 0},
		{name: "PRODJOURNALBOM", rows: 1_800_000},
		{name: "PRODJOURNALROUTE", rows: 1_100_000},
		{name: "PRODROUTE", rows: 2_100_000},
		{name: "SYSCLIENTSESSIONS", rows: 0},
		{name: "SYSSERVERSESSIONS", rows: 0},
		{name: "BATCHJOB", rows: 0},
		{name: "BATCH", rows: 0},
		{name: "SYSSETUPLOG", rows: 8_800},
		{name: "SYSCONFIG", rows: 1_200},
		{name: "MODELELEMENTDATA", rows: 0},
		{name: "SYSMODELELEMENT", rows: 1_480_000},
	}
}

// Module prefixes, nouns and suffixes for generated AX-like names
// (PROJFORECASTJOURNALTRANS, WMSROUTELINEPARAMETERS ...).
func namePrefixes() []string {
	return []string{
		"PROJ", "WMS", "HRM", "HCM", "INVENT", "SALES", "PURCH", "LEDGER", "CUST", "VEND", "BANK", "TAX",
		"ASSET", "RETAIL", "PROD", "REQ", "SMM", "JMG", "TRV", "BUDGET", "COST", "MCR", "WHS", "TMS",
		"KANBAN", "PDS", "ECORES", "DIR", "LOGISTICS", "PAYROLL", "FORMLETTER", "SYS", "AIF", "CAT",
		"PBA", "CASE", "DOCU", "EXPENSE", "INTERCOMPANY", "RBO",
	}
}

func nameNouns() []string {
	return []string{
		"FORECAST", "JOURNAL", "ORDER", "ROUTE", "LINE", "ACTIVITY", "CATEGORY", "POSTING", "GROUP", "PLAN",
		"RULE", "PRICE", "DISC", "CHARGE", "SETTLEMENT", "VOUCHER", "ATTRIBUTE", "TEMPLATE", "ALLOCATION",
		"RESERVATION", "SHIPMENT", "RECEIPT", "CONTRACT", "BUDGET", "VALIDATION", "EXCHANGE", "WORK",
		"PICKING", "PACKING", "INVOICE", "PAYMENT", "DIMENSION", "VERSION", "CALENDAR", "SCHEDULE",
		"COUNTING", "QUALITY", "CERTIFICATE", "APPROVAL", "HIERARCHY",
	}
}

func nameSuffixes() []string {
	return []string{
		"TRANS", "TABLE", "LINE", "PARAMETERS", "SETUP", "HISTORY", "JOUR", "LOG", "MAP", "DETAIL",
		"STATUS", "HEADER", "LINK", "TMP", "ARCHIVE", "VALUE", "SUMMARY", "RELATION", "SEQUENCE", "QUEUE",
	}
}

// ignorePrefixes are typical non-AOT tables a customer adds (backups,
// DBA helpers, integration staging) and lists in IgnoreTables.xml.
func ignorePrefixes() []string {
	return []string{"BAK_", "TMP_", "DBA_", "ZZ_", "OLD_", "CONTOSO_"}
}

// replSourceTables are the tables replication creates in the published
// database (all without a primary key).
func replSourceTables() []string {
	return []string{
		"sysarticlecolumns", "sysarticles", "sysarticleupdates", "syspublications", "sysreplservers",
		"sysschemaarticles", "syssubscriptions", "systranschemas",
	}
}

// replTargetTables are the tables the distribution agent creates in a
// subscription database.
func replTargetTables() []string {
	return []string{"MSreplication_subscriptions", "MSsubscription_agents"}
}

// userNames are AX user ids (at most 8 characters).
func userNames() []string {
	return []string{
		"jsmith", "mgarcia", "akumar", "lchen", "pmuller", "sjohnson", "tnguyen", "rsilva", "kwilson", "dbrown",
		"emartin", "ftaylor", "gthomas", "hlee", "iwhite", "jharris", "kclark", "llewis", "mwalker", "nhall",
		"oallen", "pyoung", "qking", "rwright", "sscott", "tgreen", "ubaker", "vadams", "wnelson", "xhill",
		"ycampbel", "zmitchel", "aroberts", "bcarter", "cphillip", "devans", "eturner", "ftorres", "gparker",
		"hcollins", "iedwards", "jstewart", "kflores", "lmorris", "mmurphy", "nrivera", "ocook", "progers",
	}
}

func upper(s string) string { return strings.ToUpper(s) }
