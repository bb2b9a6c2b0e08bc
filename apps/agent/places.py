"""The country of a place the customer names ("How long does the card take to get to Córdoba?", "I'm in
Montevideo"): the help pages of a business that serves several countries write per country
("Argentina: rest of the country — 5–10 business days", "Plus — Uruguay: UYU 2.800"), and never list
every city. General knowledge, the same for every business: the main cities and districts of the
Spanish-speaking countries (and Brazil), written once, not read from any business's pages.

A place is matched with its capital letter (accents optional: "Cordoba"), longest name first
("Santiago del Estero" is Argentina, "Santiago" Chile), and never a name that is also an everyday word
or a common surname ("La Plata" / "la plata", "Salto", "Lima", "Florida", "Mercedes", "Flores",
"Moreno", "Castro"; "Concepción" is kept: capitalised inside a sentence it is the city).
"""
from __future__ import annotations

import re
import unicodedata

# country (as the pages write it, English, Spanish) -> places
_PLACES: dict[tuple[str, str], str] = {
    ("Argentina", "Argentina"): """Buenos Aires|CABA|AMBA|Gran Buenos Aires|Conurbano|Córdoba|Rosario|Mendoza|
        Mar del Plata|San Miguel de Tucumán|Tucumán|Salta|Santa Fe|San Juan|Resistencia|Neuquén|Corrientes|
        Posadas|Bahía Blanca|Paraná|Santiago del Estero|San Salvador de Jujuy|Jujuy|Río Cuarto|
        Comodoro Rivadavia|San Luis|Catamarca|La Rioja|Formosa|Río Gallegos|Ushuaia|Tierra del Fuego|
        Bariloche|San Carlos de Bariloche|Trelew|Puerto Madryn|Viedma|Rawson|Tandil|Villa Carlos Paz|
        El Calafate|Lanús|Quilmes|Avellaneda|Lomas de Zamora|La Matanza|Morón|San Isidro|Vicente López|
        Tigre|Berazategui|Florencio Varela|Almirante Brown|Esteban Echeverría|
        Tres de Febrero|Hurlingham|Ituzaingó|Zárate|Luján|Olavarría|Junín|Pergamino|
        Necochea|Villa María|San Rafael|Rafaela|Venado Tuerto|Gualeguaychú|Concordia|Palermo|Belgrano|
        Recoleta|Caballito|Mataderos|Chubut|Patagonia|Entre Ríos|Chaco""",
    ("Chile", "Chile"): """Santiago|Santiago de Chile|Valparaíso|Viña del Mar|Concepción|La Serena|Antofagasta|
        Temuco|Rancagua|Talca|Arica|Iquique|Puerto Montt|Chillán|Calama|Osorno|Valdivia|Punta Arenas|
        Copiapó|Coquimbo|Talcahuano|Puente Alto|Maipú|Las Condes|Providencia|Ñuñoa|Vitacura|La Florida|
        San Bernardo|Quilpué|Villa Alemana|Curicó|Ovalle|Puerto Varas|Chiloé|Rapa Nui|
        Isla de Pascua|Easter Island|Atacama|San Pedro de Atacama|Aysén|Magallanes""",
    ("Uruguay", "Uruguay"): """Montevideo|Punta del Este|Maldonado|Paysandú|Colonia del Sacramento|
        Las Piedras|Tacuarembó|Canelones|Piriápolis|Ciudad de la Costa|Pocitos|
        La Paloma|Fray Bentos|Treinta y Tres|Punta Carretas""",
    ("Mexico", "México"): """Ciudad de México|CDMX|Guadalajara|Monterrey|Puebla|Tijuana|Querétaro|Cancún|
        Toluca|Chihuahua|Ciudad Juárez|Mexicali|Hermosillo|Culiacán|Aguascalientes|Morelia|Saltillo|
        San Luis Potosí|Veracruz|Acapulco|Oaxaca|Tuxtla Gutiérrez|Villahermosa|Mazatlán|Puerto Vallarta|
        Zapopan|Ecatepec|Naucalpan|Playa del Carmen|Los Cabos""",
    ("Colombia", "Colombia"): """Bogotá|Medellín|Cali|Barranquilla|Cartagena|Cúcuta|Bucaramanga|Pereira|
        Santa Marta|Ibagué|Manizales|Villavicencio|Neiva""",
    ("Peru", "Perú"): """Arequipa|Cusco|Cuzco|Chiclayo|Piura|Iquitos|Huancayo|Tacna|Callao|Miraflores""",
    ("Spain", "España"): """Madrid|Barcelona|Sevilla|Zaragoza|Málaga|Bilbao|Alicante|
        Valladolid|Vigo|Gijón|Palma de Mallorca|Las Palmas|Santa Cruz de Tenerife|Granada""",
    ("Paraguay", "Paraguay"): """Asunción|Ciudad del Este|Encarnación|San Lorenzo|Luque""",
    ("Bolivia", "Bolivia"): """La Paz|Santa Cruz de la Sierra|Cochabamba|Sucre|El Alto|Tarija""",
    ("Ecuador", "Ecuador"): """Quito|Guayaquil""",
    ("Brazil", "Brasil"): """São Paulo|Sao Paulo|Rio de Janeiro|Río de Janeiro|Brasília|Florianópolis|
        Porto Alegre|Salvador de Bahía|Belo Horizonte|Curitiba|Recife|Fortaleza|Foz do Iguaçu|Búzios""",
}


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _table() -> tuple[re.Pattern, dict[str, tuple[str, str]]]:
    country_of: dict[str, tuple[str, str]] = {}
    for country, places in _PLACES.items():
        for place in (p.strip() for p in places.split("|")):
            if place:
                country_of[_fold(place)] = country
    names = sorted(country_of, key=len, reverse=True)  # the longest name first
    # capitalised as written; accents optional (matched on the folded text)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])")
    return pattern, country_of


_PATTERN, _COUNTRY_OF = _table()


# A place's name right after a self-introduction is the customer's name ("Soy Santiago", "I'm Santiago"),
# not where they are ("Soy de Córdoba", "I'm in Santiago").
_INTRODUCTION = re.compile(r"(?:\bsoy|\bme llamo|\bmi nombre es|\bmy name is|\bi am|\bi'm|\bi’m|\bthis is|"
                           r"\bhabla|\bsaluda)\s+$", re.IGNORECASE)


def named_places(text: str) -> list[tuple[str, tuple[str, str]]]:
    """The places ``text`` names, with their country (English, Spanish), in order of appearance; not a
    name right after a self-introduction (``_INTRODUCTION``)."""
    folded = _fold(text or "")
    return [(m.group(1), _COUNTRY_OF[m.group(1)]) for m in _PATTERN.finditer(folded)
            if not _INTRODUCTION.search(folded[:m.start()])]


def countries_for(text: str, known) -> list[str]:
    """The countries of the places ``text`` names that the knowledge base never names itself, as it
    writes them (``known``: its folded lower-case words; a country it never mentions is left out), and
    that ``text`` does not already name. ``[]`` when there is none."""
    if known is None:
        return []
    already = _fold(text or "").lower()
    found: list[str] = []
    for place, (english, spanish) in named_places(text):
        if all(word in known for word in place.lower().split()):
            continue  # the pages name the place itself ("Buenos Aires City and Greater Buenos Aires (AMBA)")
        for name in (english, spanish):
            word = _fold(name).lower()
            if word in known and name not in found and not re.search(rf"\b{re.escape(word)}\b", already):
                found.append(name)
                break
    return found


def place_words(text: str, known) -> frozenset[str]:
    """The words (folded, lower case) of the places ``text`` names whose country the knowledge base
    mentions (``known``): "punta", "del", "este" for "Punta del Este" when the pages write for Uruguay."""
    if known is None:
        return frozenset()
    return frozenset(word for place, country in named_places(text)
                     if any(_fold(name).lower() in known for name in country)
                     for word in place.lower().split())
