#include "ventros/memory/fact_extractor.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ventros::memory {
namespace {

using Facts = std::vector<ExtractedFact>;

const ExtractedFact* Find(const Facts& facts, std::string_view subject) {
  const auto it = std::find_if(facts.begin(), facts.end(),
                               [&](const ExtractedFact& f) { return f.subject == subject; });
  return it == facts.end() ? nullptr : &*it;
}

bool HasType(const Facts& facts, std::string_view type) {
  return std::any_of(facts.begin(), facts.end(),
                     [&](const ExtractedFact& f) { return f.type == type; });
}

// One message and the fact it must yield; an empty value is not checked.
struct Case {
  std::string_view message;
  std::string_view type;
  std::string_view subject;
  std::string_view value = {};
};

void CheckStatements(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("message: " << c.message);
    const Facts facts = ExtractFacts(c.message);
    const ExtractedFact* f = Find(facts, c.subject);
    REQUIRE(f != nullptr);
    CHECK(f->type == c.type);
    CHECK_FALSE(f->retraction);
    if (!c.value.empty()) CHECK(f->value_json == c.value);
    CHECK(f->confidence > 0);
    CHECK(f->confidence <= 1);
    CHECK_FALSE(f->text.empty());
    CHECK_FALSE(f->evidence.empty());
  }
}

void CheckRetractions(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("message: " << c.message);
    const Facts facts = ExtractFacts(c.message);
    const ExtractedFact* f = Find(facts, c.subject);
    REQUIRE(f != nullptr);
    CHECK(f->type == c.type);
    CHECK(f->retraction);
    CHECK(f->value_json == "{}");
  }
}

// ---------------------------------------------------------------------------------------------
// Budgets

TEST_CASE("ExtractFacts: budgets with currency, period and multipliers", "[facts]") {
  CheckStatements({
      {"Meu orçamento é R$ 5000/mês", "budget_constraint", "budget",
       R"({"amount":5000,"currency":"BRL","period":"month"})"},
      {"posso pagar R$ 5.000 por mês", "budget_constraint", "budget",
       R"({"amount":5000,"currency":"BRL","period":"month"})"},
      {"consigo investir 5 mil reais mensais", "budget_constraint", "budget",
       R"({"amount":5000,"currency":"BRL","period":"month"})"},
      {"temos um budget de R$ 5.000,00 mensal", "budget_constraint", "budget",
       R"({"amount":5000,"currency":"BRL","period":"month"})"},
      {"orçamento de até 3k", "budget_constraint", "budget", R"({"amount":3000,"bound":"max"})"},
      {"Our budget is $2,000 a month", "budget_constraint", "budget",
       R"({"amount":2000,"currency":"USD","period":"month"})"},
      {"our budget is US$ 1.5k per year", "budget_constraint", "budget",
       R"({"amount":1500,"currency":"USD","period":"year"})"},
      {"I can afford up to €300/month", "budget_constraint", "budget",
       R"({"amount":300,"currency":"EUR","period":"month","bound":"max"})"},
      {"meu orçamento é de R$ 1.500,50 por semana", "budget_constraint", "budget",
       R"({"amount":1500.5,"currency":"BRL","period":"week"})"},
      {"consigo pagar R$ 20 mil à vista", "budget_constraint", "budget",
       R"({"amount":20000,"currency":"BRL","period":"one_time"})"},
      {"podemos investir de 5 a 8 mil por mês", "budget_constraint", "budget",
       R"({"amount":8000,"period":"month","min":5000})"},
      {"entre 5 e 8 mil por mês é o que podemos investir", "budget_constraint", "budget",
       R"({"amount":8000,"period":"month","min":5000})"},
      {"não posso pagar mais de R$ 500 por mês", "budget_constraint", "budget",
       R"({"amount":500,"currency":"BRL","period":"month","bound":"max"})"},
      {"orçamento: 10 mil", "budget_constraint", "budget", R"({"amount":10000})"},
  });
}

TEST_CASE("ExtractFacts: budget texts are short statements in the customer's language", "[facts]") {
  CHECK(ExtractFacts("Meu orçamento é R$ 5000/mês").at(0).text == "Orçamento de R$ 5.000/mês");
  CHECK(ExtractFacts("Our budget is $2,000 a month").at(0).text == "Budget of $2,000/month");
  CHECK(ExtractFacts("orçamento de até 3k").at(0).text == "Orçamento de até 3.000");
  const Facts facts = ExtractFacts("Oi! Meu orçamento é R$ 5000/mês. Obrigado");
  REQUIRE(facts.size() == 1);
  CHECK(facts[0].evidence == "Meu orçamento é R$ 5000/mês.");
}

TEST_CASE("ExtractFacts: a message that is only an amount is a weak budget", "[facts]") {
  for (const char* message : {"R$ 5000/mês", "€300/month", "uns 2 mil reais por mês"}) {
    INFO(message);
    const Facts facts = ExtractFacts(message);
    REQUIRE(facts.size() == 1);
    CHECK(facts[0].subject == "budget");
    CHECK(facts[0].confidence <= 0.5);
  }
  CHECK(ExtractFacts("R$ 5000/mês").at(0).value_json ==
        R"({"amount":5000,"currency":"BRL","period":"month"})");
}

TEST_CASE("ExtractFacts: prices, offers and questions are not the customer's budget", "[facts]") {
  for (const char* message : {
           "O plano custa R$ 99",
           "quanto custa?",
           "qual o valor do plano anual?",
           "Nosso plano Pro custa R$ 199/mês e inclui 5 usuários",
           "Posso te oferecer 20% de desconto no plano anual",
           "vocês aceitam R$ 400 por mês?",
           "quanto fica para 10 usuários?",
           "o boleto de R$ 350 vence amanhã",
           "tenho 3 filhos",
       }) {
    INFO(message);
    CHECK(Find(ExtractFacts(message), "budget") == nullptr);
  }
  // The customer's own figure wins over the quoted price next to it.
  const Facts mixed = ExtractFacts("o plano custa R$ 99 mas meu orçamento é R$ 50");
  REQUIRE(Find(mixed, "budget") != nullptr);
  CHECK(Find(mixed, "budget")->value_json == R"({"amount":50,"currency":"BRL"})");
  const Facts after = ExtractFacts("meu orçamento é R$ 500 e o preço de vocês é R$ 800");
  REQUIRE(Find(after, "budget") != nullptr);
  CHECK(Find(after, "budget")->value_json == R"({"amount":500,"currency":"BRL"})");
}

TEST_CASE("ExtractFacts: no defined budget is a budget fact without an amount", "[facts]") {
  for (const char* message :
       {"não tenho orçamento definido", "nao tenho orcamento definido", "ainda não temos orçamento",
        "o orçamento ainda não está definido", "we don't have a budget yet"}) {
    INFO(message);
    const Facts facts = ExtractFacts(message);
    const ExtractedFact* f = Find(facts, "budget");
    REQUIRE(f != nullptr);
    CHECK(f->value_json == R"({"defined":false})");
    CHECK(f->value_json.find("amount") == std::string::npos);
  }
  CHECK(Find(ExtractFacts("isso não cabe no orçamento"), "budget") == nullptr);
}

TEST_CASE("ExtractFacts: a corrected budget keeps the new amount", "[facts]") {
  const Facts facts = ExtractFacts("meu orçamento não é mais 5 mil, agora é 8 mil");
  REQUIRE(Find(facts, "budget") != nullptr);
  CHECK(Find(facts, "budget")->value_json == R"({"amount":8000})");
}

TEST_CASE("ExtractFacts: current spend and revenue are business facts, not budgets", "[facts]") {
  const Facts spend = ExtractFacts("pagamos R$ 800 por mês no sistema atual");
  CHECK(Find(spend, "budget") == nullptr);
  REQUIRE(Find(spend, "business_info:current_spend") != nullptr);
  CHECK(Find(spend, "business_info:current_spend")->value_json ==
        R"({"amount":800,"currency":"BRL","period":"month"})");
  const Facts revenue = ExtractFacts("faturamos R$ 2 milhões por ano");
  REQUIRE(Find(revenue, "business_info:revenue") != nullptr);
  CHECK(Find(revenue, "business_info:revenue")->value_json ==
        R"({"amount":2000000,"currency":"BRL","period":"year"})");
}

// ---------------------------------------------------------------------------------------------
// Objections

TEST_CASE("ExtractFacts: competitor objections with discount, name and price", "[facts]") {
  CheckStatements({
      {"O concorrente oferece 30% mais barato", "objection", "objection:competitor",
       R"({"competitor_discount_percent":30})"},
      {"a empresa Zapflow cobra menos", "objection", "objection:competitor",
       R"({"competitor":"Zapflow"})"},
      {"a Zapflow cobra 20% menos", "objection", "objection:competitor",
       R"({"competitor":"Zapflow","competitor_discount_percent":20})"},
      {"o concorrente cobra R$ 300 por mês", "objection", "objection:competitor",
       R"({"competitor_price":300,"currency":"BRL","period":"month"})"},
      {"estamos avaliando outros fornecedores", "objection", "objection:competitor", "{}"},
      {"we're talking to other vendors who are cheaper", "objection", "objection:competitor"},
      {"a competitor offered us a 15% discount", "objection", "objection:competitor",
       R"({"competitor_discount_percent":15})"},
      {"vocês são mais caros que a Zenvia", "objection", "objection:competitor",
       R"({"competitor":"Zenvia"})"},
  });
}

TEST_CASE("ExtractFacts: price, timing, trust and need objections", "[facts]") {
  CheckStatements({
      {"muito caro", "objection", "objection:price", "{}"},
      {"too expensive for us", "objection", "objection:price", "{}"},
      {"o preço está alto", "objection", "objection:price"},
      {"achei cara a mensalidade", "objection", "objection:price"},
      {"tá puxado pra gente esse mês", "objection", "objection:price"},
      {"isso está fora do nosso orçamento", "objection", "objection:price"},
      {"custa R$ 500, muito caro", "objection", "objection:price",
       R"({"amount":500,"currency":"BRL"})"},
      {"não posso pagar R$ 800", "objection", "objection:price",
       R"({"amount":800,"currency":"BRL"})"},
      {"agora não é o momento", "objection", "objection:timing"},
      {"maybe next year", "objection", "objection:timing", R"({"when":"next year"})"},
      {"não confio muito em vocês", "objection", "objection:trust"},
      {"não tenho interesse, obrigado", "objection", "objection:need"},
  });
}

TEST_CASE("ExtractFacts: words that only look like objections", "[facts]") {
  for (const char* message :
       {"o preço está ótimo", "não acho caro", "Caro João, segue o contrato",
        "cara, vc pode me mandar o link?", "o mês foi puxado", "o preço não está alto"}) {
    INFO(message);
    CHECK(Find(ExtractFacts(message), "objection:price") == nullptr);
  }
  CHECK(Find(ExtractFacts("o concorrente não é mais barato que vocês"), "objection:competitor") ==
        nullptr);
  CHECK(Find(ExtractFacts("vocês são mais baratos que a Zenvia"), "objection:competitor") ==
        nullptr);
  CHECK(Find(ExtractFacts("queremos dobrar as vendas no ano que vem"), "objection:timing") ==
        nullptr);
}

// ---------------------------------------------------------------------------------------------
// Pain points, goals

TEST_CASE("ExtractFacts: pain points", "[facts]") {
  CheckStatements({
      {"o ROI não está claro", "pain_point", "pain_point:roi", "{}"},
      {"honestly the ROI isn't clear to us yet", "pain_point", "pain_point:roi"},
      {"o sistema é lento", "pain_point", "pain_point:performance"},
      {"perdemos muito tempo com planilhas", "pain_point", "pain_point:manual_work"},
      {"We lose a lot of time copying data between spreadsheets", "pain_point",
       "pain_point:manual_work"},
      {"support takes days to answer", "pain_point", "pain_point:support"},
      {"ninguém responde no suporte", "pain_point", "pain_point:support"},
      {"estamos perdendo muitos leads", "pain_point", "pain_point:lost_sales"},
      {"nosso maior problema é a falta de leads qualificados", "pain_point",
       "pain_point:falta_leads_qualificados"},
  });
  CHECK(ExtractFacts("o suporte de vocês é ótimo").empty());
  CHECK(ExtractFacts("qual o ROI?").empty());
  // Slowness of the system and of support are two pains.
  const Facts both = ExtractFacts("o sistema de vcs eh mt lento e o suporte demora dias");
  CHECK(Find(both, "pain_point:performance") != nullptr);
  CHECK(Find(both, "pain_point:support") != nullptr);
}

TEST_CASE("ExtractFacts: goals with a normalised subject and a percentage", "[facts]") {
  CheckStatements({
      {"queremos aumentar as vendas em 20%", "goal", "goal:increase_sales",
       R"({"action":"increase","object":"vendas","percent":20})"},
      {"Our goal is to increase sales by 20%", "goal", "goal:increase_sales",
       R"({"action":"increase","object":"sales","percent":20})"},
      {"our goal is to reduce churn", "goal", "goal:reduce_churn",
       R"({"action":"reduce","object":"churn"})"},
      {"o objetivo é automatizar o atendimento", "goal", "goal:automate_service"},
      {"queremos aumentar o faturamento para R$ 1 milhão", "goal", "goal:increase_revenue",
       R"({"action":"increase","object":"faturamento","amount":1000000,"currency":"BRL"})"},
  });
  const Facts two = ExtractFacts("a gente quer automatizar o atendimento e reduzir custos em 30%");
  CHECK(Find(two, "goal:automate_service") != nullptr);
  REQUIRE(Find(two, "goal:reduce_costs") != nullptr);
  CHECK(Find(two, "goal:reduce_costs")->value_json ==
        R"({"action":"reduce","object":"custos","percent":30})");
  CHECK(Find(two, "goal:reduce_costs")->text == "Objetivo: reduzir custos em 30%");
  CHECK_FALSE(HasType(ExtractFacts("quero falar com um atendente"), "goal"));
  CHECK_FALSE(HasType(ExtractFacts("não queremos aumentar a equipe"), "goal"));
}

// ---------------------------------------------------------------------------------------------
// Preferences, technical details, personal and business details, constraints

TEST_CASE("ExtractFacts: contact and payment preferences", "[facts]") {
  CheckStatements({
      {"prefiro ser contatado por WhatsApp", "preference", "preference:channel",
       R"({"channel":"whatsapp"})"},
      {"I prefer email", "preference", "preference:channel", R"({"channel":"email"})"},
      {"pelo zap é melhor pra mim", "preference", "preference:channel",
       R"({"channel":"whatsapp"})"},
      {"melhor horário é de manhã", "preference", "preference:time", R"({"time":"morning"})"},
      {"The best time to reach me is in the afternoon", "preference", "preference:time",
       R"({"time":"afternoon"})"},
      {"prefiro que me liguem depois das 18h", "preference", "preference:time",
       R"({"after_hour":18})"},
      {"não me liguem, por favor", "preference", "preference:no_calls",
       R"({"channel":"phone","avoid":true})"},
      {"prefiro pagar no pix", "preference", "preference:payment", R"({"method":"pix"})"},
      {"I'd rather talk in English", "preference", "preference:language", R"({"language":"en"})"},
  });
  const Facts facts = ExtractFacts("Please don't call me, email is better");
  CHECK(Find(facts, "preference:no_calls") != nullptr);
  REQUIRE(Find(facts, "preference:channel") != nullptr);
  CHECK(Find(facts, "preference:channel")->value_json == R"({"channel":"email"})");
}

TEST_CASE("ExtractFacts: error codes, versions and platforms", "[facts]") {
  CheckStatements({
      {"deu erro 500 quando tento salvar", "technical_info", "technical_info:error:500",
       R"({"code":"500"})"},
      {"I get error E-404 on login", "technical_info", "technical_info:error:e404",
       R"({"code":"E-404"})"},
      {"código 0x80070005 ao instalar", "technical_info", "technical_info:error:0x80070005",
       R"({"code":"0x80070005"})"},
      {"the 403 error again", "technical_info", "technical_info:error:403"},
      {"estou na versão 3.2 do app Android", "technical_info", "technical_info:version",
       R"({"version":"3.2"})"},
      {"estou na versão 3.2 do app Android", "technical_info", "technical_info:platform:android",
       R"({"platform":"Android"})"},
      {"no Android 13 o app fecha sozinho", "technical_info", "technical_info:platform:android",
       R"({"platform":"Android","version":"13"})"},
      {"usamos o HubSpot hoje", "technical_info", "technical_info:product:hubspot",
       R"({"product":"HubSpot"})"},
  });
  // "E-404" and "e404" are the same error.
  CHECK(Find(ExtractFacts("erro e404 de novo"), "technical_info:error:e404") != nullptr);
  CHECK_FALSE(HasType(ExtractFacts("o código do pedido é 12345"), "technical_info"));
}

TEST_CASE("ExtractFacts: personal and business details", "[facts]") {
  CheckStatements({
      {"tenho 3 filhos", "personal_info", "personal_info:children", R"({"children":3})"},
      {"não tenho filhos", "personal_info", "personal_info:children", R"({"children":0})"},
      {"I have two kids and I'm 35 years old", "personal_info", "personal_info:children",
       R"({"children":2})"},
      {"I have two kids and I'm 35 years old", "personal_info", "personal_info:age",
       R"({"age":35})"},
      {"meu nome é Ana Paula e moro em São Paulo", "personal_info", "personal_info:name",
       R"({"name":"Ana Paula"})"},
      {"meu nome é Ana Paula e moro em São Paulo", "personal_info", "personal_info:location",
       R"({"location":"São Paulo"})"},
      {"sou gerente de vendas da Acme", "personal_info", "personal_info:role",
       R"({"role":"gerente de vendas"})"},
      {"sou gerente de vendas da Acme", "business_info", "business_info:company",
       R"({"company":"Acme"})"},
      {"oi, sou o Carlos da Contabilidade Silva", "personal_info", "personal_info:name",
       R"({"name":"Carlos"})"},
      {"oi, sou o Carlos da Contabilidade Silva", "business_info", "business_info:company",
       R"({"company":"Contabilidade Silva"})"},
      {"meu nome é Maria da Silva", "personal_info", "personal_info:name",
       R"({"name":"Maria da Silva"})"},
      {"somos uma empresa de 50 funcionários", "business_info", "business_info:employees",
       R"({"employees":50})"},
      {"Hi, we're a 50-person company", "business_info", "business_info:employees",
       R"({"employees":50})"},
      {"temos 8 vendedores", "business_info", "business_info:sales_team", R"({"sales_team":8})"},
      {"atendemos 2 mil clientes", "business_info", "business_info:customers",
       R"({"customers":2000})"},
      {"recebemos uns 500 mensagens por dia", "business_info", "business_info:message_volume",
       R"({"messages":500,"period":"day"})"},
      {"trabalho com e-commerce", "business_info", "business_info:industry",
       R"({"industry":"ecommerce","description":"e-commerce"})"},
      {"temos uma clínica odontológica", "business_info", "business_info:industry",
       R"({"industry":"dental","description":"clínica odontológica"})"},
  });
  CHECK_FALSE(HasType(ExtractFacts("tenho 5 anos de experiência na área"), "personal_info"));
  CHECK_FALSE(
      HasType(ExtractFacts("o plano atende empresas de até 50 funcionários"), "business_info"));
}

TEST_CASE("ExtractFacts: constraints", "[facts]") {
  CheckStatements({
      {"precisamos disso funcionando até março", "constraint", "constraint:deadline",
       R"({"deadline":"março"})"},
      {"é urgente", "constraint", "constraint:deadline", R"({"urgent":true})"},
      {"preciso falar com meu sócio antes de fechar", "constraint", "constraint:approval",
       R"({"approver":"partner"})"},
      {"tem que integrar com o Shopify", "constraint", "constraint:integration:shopify",
       R"({"product":"Shopify","required":true})"},
      {"precisa ser compatível com a LGPD", "constraint", "constraint:compliance:lgpd"},
  });
}

// ---------------------------------------------------------------------------------------------
// Retractions

TEST_CASE("ExtractFacts: retractions withdraw the subject they are about", "[facts]") {
  CheckRetractions({
      {"o preço não é mais problema", "objection", "objection:price"},
      {"o preço nao eh mais problema", "objection", "objection:price"},
      {"já não estou considerando o concorrente", "objection", "objection:competitor"},
      {"I'm no longer looking at other vendors", "objection", "objection:competitor"},
      {"We're not considering other vendors anymore", "objection", "objection:competitor"},
      {"price is no longer an issue for us", "objection", "objection:price"},
      {"o sistema não é mais lento depois da atualização", "pain_point", "pain_point:performance"},
      {"o erro 500 foi resolvido, obrigado", "technical_info", "technical_info:error:500"},
      {"the 403 error is fixed now", "technical_info", "technical_info:error:403"},
      {"não queremos mais expandir para o Chile", "goal", "goal:expand_chile"},
      {"não uso mais o Android", "technical_info", "technical_info:platform:android"},
  });
}

TEST_CASE("ExtractFacts: the later of a statement and its retraction wins", "[facts]") {
  const Facts facts = ExtractFacts("o preço estava alto, mas agora não é mais problema");
  REQUIRE(Find(facts, "objection:price") != nullptr);
  CHECK(Find(facts, "objection:price")->retraction);
  // Withdrawing one thing leaves the others standing.
  const Facts mixed = ExtractFacts("o preço está alto e já não estou considerando o concorrente");
  REQUIRE(Find(mixed, "objection:price") != nullptr);
  CHECK_FALSE(Find(mixed, "objection:price")->retraction);
  REQUIRE(Find(mixed, "objection:competitor") != nullptr);
  CHECK(Find(mixed, "objection:competitor")->retraction);
}

TEST_CASE("ExtractFacts: complaints and comparisons are not retractions", "[facts]") {
  const Facts fed_up = ExtractFacts("já não aguento mais essa lentidão");
  REQUIRE(Find(fed_up, "pain_point:performance") != nullptr);
  CHECK_FALSE(Find(fed_up, "pain_point:performance")->retraction);
  const Facts still = ExtractFacts("o erro 500 ainda não foi resolvido");
  REQUIRE(Find(still, "technical_info:error:500") != nullptr);
  CHECK_FALSE(Find(still, "technical_info:error:500")->retraction);
  for (const char* message : {"o app não funciona mais", "the app doesn't work anymore",
                              "não dá mais pra esperar o suporte"}) {
    INFO(message);
    for (const ExtractedFact& f : ExtractFacts(message)) CHECK_FALSE(f.retraction);
  }
}

// ---------------------------------------------------------------------------------------------
// Messy text, robustness

TEST_CASE("ExtractFacts: messy WhatsApp text", "[facts]") {
  const Facts shouted = ExtractFacts("OI BOA TARDE!!! MEU ORCAMENTO EH 3 MIL POR MES 🙏🙏");
  REQUIRE(Find(shouted, "budget") != nullptr);
  CHECK(Find(shouted, "budget")->value_json == R"({"amount":3000,"period":"month"})");

  const Facts rant = ExtractFacts("ta mt caro isso ai hein 😅 o concorrente faz por 300 reais");
  CHECK(Find(rant, "objection:price") != nullptr);
  REQUIRE(Find(rant, "objection:competitor") != nullptr);
  CHECK(Find(rant, "objection:competitor")->value_json ==
        R"({"competitor_price":300,"currency":"BRL"})");

  const Facts several = ExtractFacts(
      "Oi! Tudo bem? Meu orçamento é R$ 2.000 por mês. Mas o concorrente oferece 20% de "
      "desconto\nPrefiro falar por WhatsApp");
  REQUIRE(several.size() == 3);
  CHECK(several[0].subject == "budget");
  CHECK(several[0].evidence == "Meu orçamento é R$ 2.000 por mês.");
  CHECK(several[1].value_json == R"({"competitor_discount_percent":20})");
  CHECK(several[1].evidence == "Mas o concorrente oferece 20% de desconto");
  CHECK(several[2].subject == "preference:channel");

  // Accents are optional, and the same fact comes out either way.
  const Facts accented = ExtractFacts("não tenho orçamento, o preço está alto");
  const Facts plain = ExtractFacts("nao tenho orcamento, o preco esta alto");
  REQUIRE(accented.size() == plain.size());
  for (size_t i = 0; i < plain.size(); ++i) CHECK(accented[i].subject == plain[i].subject);

  // One fact per subject however often it is said.
  const Facts repeated = ExtractFacts("muito caro. caro demais!! too expensive");
  CHECK(repeated.size() == 1);
}

TEST_CASE("ExtractFacts: greetings and small talk give nothing", "[facts]") {
  for (const char* message :
       {"", "   ", "oi bom dia 😊 tudo bem?", "Boa tarde! Tudo bem?", "Good morning, how are you?",
        "obrigado pelo atendimento, foi ótimo", "ok 👍", "kkkkkkk", "Olá! Como posso ajudar?",
        "vou pensar e te aviso", "pode me mandar o contrato?"}) {
    INFO(message);
    CHECK(ExtractFacts(message).empty());
  }
}

TEST_CASE("ExtractFacts: invalid UTF-8 and odd bytes never break it", "[facts]") {
  const std::string broken = "meu or\xC3\xA7\x61mento \xFF\xFE\xC3 é R$ 5000/m\xC3\xAAs\x80 fim";
  const Facts facts = ExtractFacts(broken);
  for (const ExtractedFact& f : facts) {
    for (const unsigned char c : f.evidence) CHECK((c != 0xFF && c != 0xFE));
  }
  std::string bytes;
  for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<char>((i * 131 + 7) % 256));
  CHECK_NOTHROW(ExtractFacts(bytes));
}

TEST_CASE("ExtractFacts: long inputs are read up to 64 KiB", "[facts]") {
  std::string text;
  const std::string chunk =
      "oi tudo bem 😊 meu orçamento é R$ 5.000 por mês mas o concorrente oferece 30% mais "
      "barato e o sistema de vocês é lento, erro 500 toda hora; prefiro WhatsApp\n";
  while (text.size() < kMaxFactInputBytes) text += chunk;
  const Facts facts = ExtractFacts(text);
  CHECK(facts.size() <= 32);
  CHECK(Find(facts, "budget") != nullptr);
  CHECK(Find(facts, "objection:competitor") != nullptr);

  // What lies beyond the limit is not read.
  std::string padded(kMaxFactInputBytes, ' ');
  padded += "meu orçamento é R$ 5000/mês";
  CHECK(ExtractFacts(padded).empty());

  // One endless word, one endless number, one endless sentence.
  CHECK(ExtractFacts(std::string(100000, 'a')).empty());
  CHECK_NOTHROW(ExtractFacts(std::string(100000, '9')));
  std::string words;
  while (words.size() < 100000) words += "muito caro concorrente 10% ";
  CHECK_NOTHROW(ExtractFacts(words));
}

TEST_CASE("ExtractFacts: every fact is well formed", "[facts]") {
  static constexpr std::array kTypes = {"budget_constraint", "preference",    "goal",
                                        "pain_point",        "objection",     "constraint",
                                        "technical_info",    "personal_info", "business_info"};
  for (const char* message : {
           "Meu orçamento é R$ 5000/mês, o concorrente oferece 30% mais barato",
           "o ROI não está claro e perdemos muito tempo com planilhas; queremos aumentar as "
           "vendas em 20%",
           "prefiro WhatsApp de manhã, deu erro 500 na versão 3.2, tenho 3 filhos",
           "somos uma empresa de 50 funcionários, trabalho com e-commerce, \"Acme\" \\ "
           "precisamos até março",
           "o preço não é mais problema",
       }) {
    INFO(message);
    const Facts facts = ExtractFacts(message);
    CHECK_FALSE(facts.empty());
    for (const ExtractedFact& f : facts) {
      INFO(f.subject);
      CHECK(std::find(kTypes.begin(), kTypes.end(), f.type) != kTypes.end());
      CHECK((f.subject == "budget" || f.subject.rfind(f.type + ":", 0) == 0));
      REQUIRE(f.value_json.size() >= 2);
      CHECK(f.value_json.front() == '{');
      CHECK(f.value_json.back() == '}');
      CHECK(f.confidence > 0);
      CHECK(f.confidence <= 1);
    }
  }
}

TEST_CASE("ExtractFacts: concurrent calls give the same facts", "[facts]") {
  const std::string message = "meu orçamento é R$ 5000/mês e o concorrente oferece 30% mais barato";
  const Facts expected = ExtractFacts(message);
  std::vector<Facts> results(4);
  std::vector<std::thread> threads;
  for (Facts& r : results) threads.emplace_back([&] { r = ExtractFacts(message); });
  for (std::thread& t : threads) t.join();
  for (const Facts& r : results) {
    REQUIRE(r.size() == expected.size());
    for (size_t i = 0; i < r.size(); ++i) CHECK(r[i].value_json == expected[i].value_json);
  }
}

TEST_CASE("ExtractFacts: ordinals that are not weekdays make no deadline", "[facts]") {
  for (std::string_view m :
       {"Preciso da segunda via do boleto de outubro", "É a segunda vez que isso acontece",
        "Mandei a segunda opção", "Quero a segunda via da fatura"}) {
    INFO("message: " << m);
    for (const auto& f : ExtractFacts(m)) CHECK(f.value_json.find("segunda") == std::string::npos);
  }
  // A weekday still is one.
  CHECK(HasType(ExtractFacts("Preciso disso até segunda"), "constraint"));
}

}  // namespace
}  // namespace ventros::memory
